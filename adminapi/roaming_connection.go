package adminapi

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/event"
	"github.com/roamnode/roamnode/domain/partner"
)

// connectionView is a roaming connection as the API returns it. Tokens are
// never readable back: only hints (last four characters). Token A is shown
// once, when it is issued.
type connectionView struct {
	ID                uuid.UUID                 `json:"id"`
	ExternalReference *string                   `json:"external_reference"`
	Name              string                    `json:"name"`
	Kind              string                    `json:"kind"`
	Status            string                    `json:"status"`
	InitiatedBy       string                    `json:"initiated_by"`
	VersionsURL       string                    `json:"versions_url"`
	OurTokenHint      *string                   `json:"our_token_hint"`
	OurTokenIsA       bool                      `json:"our_token_is_a"`
	TheirTokenHint    *string                   `json:"their_token_hint"`
	TheirVersionsURL  *string                   `json:"their_versions_url"`
	Version           *string                   `json:"version"`
	TheirEndpoints    []partner.Endpoint        `json:"their_endpoints"`
	TheirRoles        []partner.CredentialsRole `json:"their_roles"`
	TokenBase64       bool                      `json:"token_base64"`
	LastContactAt     *time.Time                `json:"last_contact_at"`
	StatusMessage     *string                   `json:"status_message"`
	ExternalUpdatedAt *time.Time                `json:"external_updated_at"`
	CreatedAt         time.Time                 `json:"created_at"`
	UpdatedAt         time.Time                 `json:"updated_at"`
}

type connectionInput struct {
	ExternalReference *string    `json:"external_reference"`
	Name              string     `json:"name"`
	Kind              string     `json:"kind"`
	TokenBase64       *bool      `json:"token_base64"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
}

// issuedConnection carries a freshly issued token A to the create response.
type issuedConnection struct {
	partner.Connection
	tokenA string
}

func connectionResource(publicURL string) *resource[issuedConnection, connectionView, connectionInput] {
	versionsURL := publicURL + "/ocpi/versions"
	view := func(c issuedConnection) connectionView { return connectionViewOf(c.Connection, versionsURL) }
	return &resource[issuedConnection, connectionView, connectionInput]{
		name: "roaming-connection", table: "roaming_connection", family: "roaming",
		filters:  []string{"status", "kind", "external_reference"},
		implicit: []string{"external_reference", "kind"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (issuedConnection, error) {
			c, err := db.Connection(ctx, q, k.ID, k.Ref, lock)
			return issuedConnection{Connection: c}, err
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]issuedConnection, error) {
			st, err := filterChecked(a.Filters, "status", func(v string) bool { return v == "pending" || v == "registered" || v == "unregistered" }, "pending, registered or unregistered")
			if err != nil {
				return nil, err
			}
			kind, err := filterChecked(a.Filters, "kind", func(v string) bool { return v == "peer_to_peer" || v == "hub" }, "peer_to_peer or hub")
			if err != nil {
				return nil, err
			}
			cs, err := db.ListConnections(ctx, q, gen.ListConnectionsParams{After: seek(a.After), Status: st, Kind: kind,
				ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit})
			out := make([]issuedConnection, len(cs))
			for i, c := range cs {
				out[i] = issuedConnection{Connection: c}
			}
			return out, err
		},
		view: view,
		build: func(w writeCtx, in connectionInput, cur *issuedConnection) (issuedConnection, error) {
			var c issuedConnection
			if cur != nil {
				c = *cur
			} else {
				c.Status, c.InitiatedBy, c.TokenBase64 = partner.StatusPending, "partner", true
				c.tokenA = c.IssueTokenA()
			}
			c.ExternalReference, c.Name, c.Kind = in.ExternalReference, in.Name, partner.ConnectionKind(in.Kind)
			if c.Kind == "" {
				c.Kind = partner.PeerToPeer
			}
			if in.TokenBase64 != nil {
				c.TokenBase64 = *in.TokenBase64
			}
			return c, c.Validate()
		},
		save: func(ctx context.Context, q db.Querier, c issuedConnection, isNew bool) error {
			return db.SaveConnection(ctx, q, c.Connection, isNew)
		},
		meta: func(c *issuedConnection) meta {
			return meta{&c.ID, &c.ExternalReference, &c.ExternalUpdatedAt, &c.CreatedAt, &c.UpdatedAt}
		},
		scope: func(issuedConnection) *uuid.UUID { return nil },
		created: func(c issuedConnection, v connectionView) any {
			return withTokenA(v, c.tokenA)
		},
	}
}

func connectionViewOf(c partner.Connection, versionsURL string) connectionView {
	v := connectionView{ID: c.ID, ExternalReference: c.ExternalReference, Name: c.Name, Kind: string(c.Kind), Status: string(c.Status),
		InitiatedBy: c.InitiatedBy, VersionsURL: versionsURL, OurTokenHint: c.OurTokenHint, OurTokenIsA: c.OurTokenIsA,
		TheirTokenHint: c.TheirTokenHint, TheirVersionsURL: c.TheirVersionsURL, Version: c.Version, TheirEndpoints: c.TheirEndpoints,
		TheirRoles: c.TheirRoles, TokenBase64: c.TokenBase64, LastContactAt: utcPtr(c.LastContactAt), StatusMessage: c.StatusMessage,
		ExternalUpdatedAt: utcPtr(c.ExternalUpdatedAt), CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
	if v.TheirEndpoints == nil {
		v.TheirEndpoints = []partner.Endpoint{}
	}
	if v.TheirRoles == nil {
		v.TheirRoles = []partner.CredentialsRole{}
	}
	return v
}

func withTokenA(v connectionView, token string) any {
	return struct {
		connectionView
		TokenA string `json:"token_a"`
	}{v, token}
}

// issueTokenA is POST /roaming-connection/{id}/token-a: a new token A for a
// connection that is not registered (the old one stops working), shown once.
func issueTokenA(c *fiber.Ctx, rq *request) error {
	k, err := parseKey(c.Params("key"))
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	var out any
	err = db.InTx(ctx, rq.api.pool, func(tx pgx.Tx) error {
		conn, err := db.Connection(ctx, tx, k.ID, k.Ref, true)
		if err != nil {
			return err
		}
		if conn.Status == partner.StatusRegistered {
			return badRequest("conflict", "the connection is registered; unregister it before issuing a new token A")
		}
		token := conn.IssueTokenA()
		conn.Status, conn.UpdatedAt = partner.StatusPending, time.Now().UTC()
		if err := db.SaveConnection(ctx, tx, conn, false); err != nil {
			return err
		}
		v := connectionViewOf(conn, rq.api.opts.PublicURL+"/ocpi/versions")
		out = withTokenA(v, token)
		return db.AppendEvent(ctx, tx, event.New("roaming-connection", event.Update, nil, v))
	})
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// mountRoaming registers the roaming resources and actions.
func (a *API) mountRoaming(v1 fiber.Router) {
	ownPartyResource().mount(a, v1)
	partnerResource().mount(a, v1)
	agreementResource().mount(a, v1)
	connectionResource(a.opts.PublicURL).mount(a, v1)
	v1.Post("/roaming-connection/:key/token-a", a.handle("roaming", access.Write, issueTokenA))
	v1.Post("/roaming-connection/:key/register", a.handle("roaming", access.Write, registerAction))
	v1.Post("/roaming-connection/:key/rotate", a.handle("roaming", access.Write, rotateAction))
	v1.Post("/roaming-connection/:key/unregister", a.handle("roaming", access.Write, unregisterAction))
	exchangeRoutes(a, v1)
}

// ConnectionView renders a connection as the Admin API does (for outbox
// events written outside this package).
func ConnectionView(c partner.Connection, versionsURL string) any {
	return connectionViewOf(c, versionsURL)
}

// handshake runs one credentials action of the registrar on a connection
// and answers with the connection as it is afterwards.
func handshake(run func(rq *request, c *fiber.Ctx, id uuid.UUID, body body) error) handler {
	return func(c *fiber.Ctx, rq *request) error {
		if rq.api.opts.Registrar == nil {
			return &apiError{Status: fiber.StatusServiceUnavailable, Code: "unavailable", Message: "OCPI handshakes are not available on this node"}
		}
		k, err := parseKey(c.Params("key"))
		if err != nil {
			return err
		}
		b := body{}
		if len(c.Body()) > 0 {
			if b, err = parseBody(c.Body()); err != nil {
				return err
			}
		}
		conn, err := db.Connection(c.UserContext(), rq.api.pool, k.ID, k.Ref, false)
		if err != nil {
			return err
		}
		if err := run(rq, c, conn.ID, b); err != nil {
			return err
		}
		conn, err = db.Connection(c.UserContext(), rq.api.pool, &conn.ID, "", false)
		if err != nil {
			return err
		}
		return c.JSON(connectionViewOf(conn, rq.api.opts.PublicURL+"/ocpi/versions"))
	}
}

// registerInput is the body of POST /roaming-connection/{id}/register.
type registerInput struct {
	VersionsURL string `json:"versions_url"`
	Token       string `json:"token"`
}

var (
	// register: outbound registration with the partner's versions URL and
	// token A (credentials → Registration, we are the Sender).
	registerAction = handshake(func(rq *request, c *fiber.Ctx, id uuid.UUID, b body) error {
		var in registerInput
		if err := decodeInto(b, &in); err != nil {
			return err
		}
		if unknown := unknownFields(b, jsonNames(in)); len(unknown) > 0 {
			c.Set("X-RN-Unknown-Fields", strings.Join(unknown, ","))
		}
		return rq.api.opts.Registrar.Register(c.UserContext(), id, in.VersionsURL, in.Token)
	})
	// rotate: new tokens both ways (outbound PUT of our credentials).
	rotateAction = handshake(func(rq *request, c *fiber.Ctx, id uuid.UUID, _ body) error {
		return rq.api.opts.Registrar.Rotate(c.UserContext(), id)
	})
	// unregister: outbound DELETE; {"force": true} ends the connection even
	// when the partner cannot be told.
	unregisterAction = handshake(func(rq *request, c *fiber.Ctx, id uuid.UUID, b body) error {
		var in struct {
			Force bool `json:"force"`
		}
		if err := decodeInto(b, &in); err != nil {
			return err
		}
		return rq.api.opts.Registrar.Unregister(c.UserContext(), id, in.Force)
	})
)
