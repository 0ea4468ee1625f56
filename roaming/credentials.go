package roaming

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/domain/fault"
	model "github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi"
)

// Store is what the credentials handshake needs from storage (db
// implements it). A handshake holds a transaction-scoped advisory lock on
// its connection (not a row lock: SetPendingToken must update the row from
// its own transaction meanwhile), so two nodes cannot register or rotate
// one connection at once.
type Store interface {
	// InTx runs fn in one transaction.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// SetPendingToken stores the hash of a token we hand over in a
	// handshake we started (nil clears it), committed at once, because
	// the partner calls back with that token before our request returns.
	SetPendingToken(ctx context.Context, connID uuid.UUID, hash []byte) error
	// OwnParties are the roles we present in our credentials.
	OwnParties(ctx context.Context) ([]model.OwnParty, error)
}

// Tx is the transactional part of Store.
type Tx interface {
	// Connection loads a connection and takes the connection's handshake
	// lock until the transaction ends.
	Connection(ctx context.Context, id uuid.UUID) (model.Connection, error)
	// SaveConnection stores it and records the change in the outbox.
	SaveConnection(ctx context.Context, c model.Connection) error
	// LinkParties attaches the partner's credentials roles to the
	// connection as roaming partner party ids (creating partners unknown
	// so far).
	LinkParties(ctx context.Context, connID uuid.UUID, roles []model.CredentialsRole) error
}

// Registrar runs the OCPI 2.2.1 credentials handshake in both directions
// (credentials module: registration, update, unregistration).
type Registrar struct {
	store     Store
	client    *Client
	publicURL string
	// Invalidate is told when a connection's tokens change, so that token
	// caches drop it at once.
	Invalidate func(connID uuid.UUID)
}

// NewRegistrar returns a registrar; publicURL is how partners reach us.
func NewRegistrar(store Store, client *Client, publicURL string) *Registrar {
	return &Registrar{store: store, client: client, publicURL: strings.TrimRight(publicURL, "/"), Invalidate: func(uuid.UUID) {}}
}

// VersionsURL is our versions endpoint.
func (r *Registrar) VersionsURL() string { return r.publicURL + "/ocpi/versions" }

// OurCredentials is the credentials object we hand a partner: the token it
// must use, our versions URL and every own party as a role.
func (r *Registrar) OurCredentials(ctx context.Context, token string) (ocpi.Credentials, error) {
	parties, err := r.store.OwnParties(ctx)
	if err != nil {
		return ocpi.Credentials{}, err
	}
	creds := ocpi.Credentials{Token: token, URL: r.VersionsURL(), Roles: []ocpi.CredentialsRole{}}
	for _, p := range parties {
		bd := ocpi.BusinessDetails{Name: p.Name}
		if p.Website != nil {
			bd.Website = *p.Website
		}
		if p.LogoURL != nil {
			bd.Logo = &ocpi.Image{URL: *p.LogoURL, Category: ocpi.ImageOperator, Type: imageType(*p.LogoURL)}
		}
		creds.Roles = append(creds.Roles, ocpi.CredentialsRole{Role: ocpi.Role(p.Role), BusinessDetails: bd, PartyID: p.PartyID, CountryCode: p.CountryCode})
	}
	if len(creds.Roles) == 0 {
		return creds, &HandshakeError{OCPI: ocpi.StatusServerError, Message: "this node has no own party configured (Admin API: own-party)"}
	}
	return creds, nil
}

func imageType(u string) string {
	for _, t := range []string{"png", "jpeg", "jpg", "gif", "svg"} {
		if strings.HasSuffix(strings.ToLower(u), "."+t) {
			return t
		}
	}
	return "png"
}

// HandshakeError is a handshake failure with the OCPI status code the
// credentials module prescribes (3001 unable to use the partner's API,
// 3002 unsupported version, 3003 no matching endpoints) or, for the Admin
// API, a plain message.
type HandshakeError struct {
	OCPI    int
	Message string
	Err     error
}

func (e *HandshakeError) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *HandshakeError) Unwrap() error { return e.Err }

// partnerAPI is what we learn from a partner's versions endpoint.
type partnerAPI struct {
	versionsURL string
	version     string
	endpoints   []model.Endpoint
}

// discover fetches the partner's versions and the details of 2.2.1 (the one
// version we speak, so the highest mutual one), with token.
func (r *Registrar) discover(ctx context.Context, t Target, versionsURL string) (partnerAPI, error) {
	var versions []ocpi.Version
	if _, err := r.client.GetJSON(ctx, t, versionsURL, &versions); err != nil {
		return partnerAPI{}, &HandshakeError{OCPI: ocpi.StatusUnableToUseAPI, Message: "cannot read the partner's versions at " + versionsURL, Err: err}
	}
	var detailsURL string
	var offered []string
	for _, v := range versions {
		offered = append(offered, string(v.Version))
		if v.Version == ocpi.Version221 {
			detailsURL = v.URL
		}
	}
	if detailsURL == "" {
		return partnerAPI{}, &HandshakeError{OCPI: ocpi.StatusUnsupportedVer,
			Message: fmt.Sprintf("no mutual OCPI version: we speak 2.2.1, the partner offers [%s]", strings.Join(offered, ", "))}
	}
	var details ocpi.VersionDetails
	if _, err := r.client.GetJSON(ctx, t, detailsURL, &details); err != nil {
		return partnerAPI{}, &HandshakeError{OCPI: ocpi.StatusUnableToUseAPI, Message: "cannot read the partner's 2.2.1 version details", Err: err}
	}
	if err := ocpi.Validate(details); err != nil {
		return partnerAPI{}, &HandshakeError{OCPI: ocpi.StatusUnableToUseAPI, Message: "the partner's version details are invalid", Err: err}
	}
	api := partnerAPI{versionsURL: versionsURL, version: string(ocpi.Version221)}
	for _, e := range details.Endpoints {
		api.endpoints = append(api.endpoints, model.Endpoint{Identifier: string(e.Identifier), Role: string(e.Role), URL: e.URL})
	}
	// Credentials are needed for every later update or unregistration
	// (credentials → Required endpoints not available: 3003).
	if _, ok := details.Endpoint(ocpi.ModuleCredentials, ""); !ok {
		return partnerAPI{}, &HandshakeError{OCPI: ocpi.StatusNoMatchEndpoints, Message: "the partner's 2.2.1 endpoints lack the credentials module"}
	}
	return api, nil
}

func rolesOf(c ocpi.Credentials) []model.CredentialsRole {
	out := make([]model.CredentialsRole, len(c.Roles))
	for i, r := range c.Roles {
		out[i] = model.CredentialsRole{Role: model.Role(r.Role), CountryCode: strings.ToUpper(r.CountryCode),
			PartyID: strings.ToUpper(r.PartyID), Name: r.BusinessDetails.Name}
	}
	return out
}

func (r *Registrar) target(c model.Connection, token string) Target {
	return Target{ConnectionID: &c.ID, Token: token, Base64Token: c.TokenBase64}
}

// AcceptRegistration handles the partner's POST of its credentials (we are
// the Receiver): fetch its endpoints with its token, issue our token C, and
// return our credentials. A registered connection answers 405.
func (r *Registrar) AcceptRegistration(ctx context.Context, connID uuid.UUID, theirs ocpi.Credentials) (ocpi.Credentials, error) {
	return r.accept(ctx, connID, theirs, false)
}

// AcceptUpdate handles the partner's PUT: fetch its endpoints again with
// the new token, issue a new token C; when anything fails, the connection
// keeps its old state. An unregistered connection answers 405.
func (r *Registrar) AcceptUpdate(ctx context.Context, connID uuid.UUID, theirs ocpi.Credentials) (ocpi.Credentials, error) {
	return r.accept(ctx, connID, theirs, true)
}

func (r *Registrar) accept(ctx context.Context, connID uuid.UUID, theirs ocpi.Credentials, update bool) (ocpi.Credentials, error) {
	var out ocpi.Credentials
	err := r.store.InTx(ctx, func(tx Tx) error {
		c, err := tx.Connection(ctx, connID)
		if err != nil {
			return err
		}
		registered := c.Status == model.StatusRegistered
		if registered != update {
			if update {
				return ocpi.MethodNotAllowed("not registered: register with POST first")
			}
			return ocpi.MethodNotAllowed("already registered: use PUT to update the credentials")
		}
		api, err := r.discover(ctx, r.target(c, theirs.Token), theirs.URL)
		if err != nil {
			return err
		}
		ours := model.NewToken()
		out, err = r.OurCredentials(ctx, ours)
		if err != nil {
			return err
		}
		c.Registered(ours, theirs.Token, api.versionsURL, api.version, api.endpoints, rolesOf(theirs), initiator(c, update, "partner"), time.Now().UTC())
		c.UpdatedAt = time.Now().UTC()
		if err := tx.SaveConnection(ctx, c); err != nil {
			return err
		}
		return tx.LinkParties(ctx, c.ID, c.TheirRoles)
	})
	if err == nil {
		r.Invalidate(connID)
	}
	return out, err
}

// initiator keeps who first registered across updates.
func initiator(c model.Connection, update bool, now string) string {
	if update && c.InitiatedBy != "" {
		return c.InitiatedBy
	}
	return now
}

// AcceptUnregistration handles the partner's DELETE: both tokens stop
// working. An unregistered connection answers 405.
func (r *Registrar) AcceptUnregistration(ctx context.Context, connID uuid.UUID) error {
	err := r.store.InTx(ctx, func(tx Tx) error {
		c, err := tx.Connection(ctx, connID)
		if err != nil {
			return err
		}
		if c.Status != model.StatusRegistered {
			return ocpi.MethodNotAllowed("not registered")
		}
		c.Unregistered("unregistered by the partner")
		c.UpdatedAt = time.Now().UTC()
		return tx.SaveConnection(ctx, c)
	})
	if err == nil {
		r.Invalidate(connID)
	}
	return err
}

// Register starts an outbound registration (we are the Sender): with the
// partner's token A, read its versions (2.2.1 or a clear refusal) and
// endpoints, POST our credentials with a new token B, and keep the token C
// it returns. On failure the connection is unchanged.
func (r *Registrar) Register(ctx context.Context, connID uuid.UUID, versionsURL, tokenA string) error {
	if versionsURL == "" || tokenA == "" {
		return fault.Invalid("versions_url", "versions_url and token (the partner's token A) are required")
	}
	return r.outbound(ctx, connID, false, func(c model.Connection) (Target, string, error) {
		if c.Status == model.StatusRegistered {
			return Target{}, "", fault.Conflict("registered", "the connection is registered already; rotate or unregister it")
		}
		return r.target(c, tokenA), versionsURL, nil
	})
}

// Rotate updates the credentials both ways (outbound PUT): a new token for
// the partner to use, and a new one from the model. On failure both old
// tokens keep working.
func (r *Registrar) Rotate(ctx context.Context, connID uuid.UUID) error {
	return r.outbound(ctx, connID, true, func(c model.Connection) (Target, string, error) {
		if c.Status != model.StatusRegistered || c.TheirToken == nil || c.TheirVersionsURL == nil {
			return Target{}, "", fault.Conflict("not_registered", "the connection is not registered")
		}
		return r.target(c, *c.TheirToken), *c.TheirVersionsURL, nil
	})
}

func (r *Registrar) outbound(ctx context.Context, connID uuid.UUID, update bool, prepare func(model.Connection) (Target, string, error)) error {
	err := r.store.InTx(ctx, func(tx Tx) error {
		c, err := tx.Connection(ctx, connID)
		if err != nil {
			return err
		}
		t, versionsURL, err := prepare(c)
		if err != nil {
			return err
		}
		api, err := r.discover(ctx, t, versionsURL)
		if err != nil {
			return err
		}
		credsURL, _ := endpointOf(api.endpoints, string(ocpi.ModuleCredentials))
		ours := model.NewToken()
		creds, err := r.OurCredentials(ctx, ours)
		if err != nil {
			return err
		}
		// The partner reads our versions with the new token before it
		// answers, so the token must work before our request returns.
		if err := r.store.SetPendingToken(ctx, c.ID, model.HashToken(ours)); err != nil {
			return err
		}
		method := "POST"
		if update {
			method = "PUT"
		}
		resp, err := r.client.Do(ctx, t, method, credsURL, creds)
		if err != nil {
			return &HandshakeError{OCPI: ocpi.StatusUnableToUseAPI, Message: method + " of our credentials to the partner failed", Err: err}
		}
		var theirs ocpi.Credentials
		if err := ocpi.Unmarshal(resp.Envelope.Data, &theirs); err != nil {
			return &HandshakeError{OCPI: ocpi.StatusUnableToUseAPI, Message: "the partner answered our credentials with an invalid credentials object", Err: err}
		}
		c.Registered(ours, theirs.Token, api.versionsURL, api.version, api.endpoints, rolesOf(theirs), initiator(c, update, "us"), time.Now().UTC())
		c.UpdatedAt = time.Now().UTC()
		if err := tx.SaveConnection(ctx, c); err != nil {
			return err
		}
		return tx.LinkParties(ctx, c.ID, c.TheirRoles)
	})
	if err != nil {
		// Whatever failed, the token we offered must not keep working.
		_ = r.store.SetPendingToken(context.WithoutCancel(ctx), connID, nil)
	}
	r.Invalidate(connID)
	return err
}

// Unregister ends the connection (outbound DELETE). When the partner cannot
// be told, the connection is kept unless force is set (a partner that is
// gone for good must not keep a connection alive).
func (r *Registrar) Unregister(ctx context.Context, connID uuid.UUID, force bool) error {
	err := r.store.InTx(ctx, func(tx Tx) error {
		c, err := tx.Connection(ctx, connID)
		if err != nil {
			return err
		}
		if c.Status != model.StatusRegistered || c.TheirToken == nil {
			return fault.Conflict("not_registered", "the connection is not registered")
		}
		reason := "unregistered by us"
		credsURL, ok := c.Endpoint(string(ocpi.ModuleCredentials), "")
		if !ok {
			err = errors.New("the partner has no credentials endpoint")
		} else {
			_, err = r.client.Do(ctx, r.target(c, *c.TheirToken), "DELETE", credsURL, nil)
		}
		if err != nil {
			var ce *Error
			alreadyGone := errors.As(err, &ce) && ce.HTTPStatus == 405
			if !force && !alreadyGone {
				return &HandshakeError{OCPI: ocpi.StatusUnableToUseAPI, Message: "the partner did not accept the unregistration (use force to unregister anyway)", Err: err}
			}
			reason += " (the partner was not told: " + err.Error() + ")"
		}
		c.Unregistered(reason)
		c.UpdatedAt = time.Now().UTC()
		return tx.SaveConnection(ctx, c)
	})
	if err == nil {
		r.Invalidate(connID)
	}
	return err
}

func endpointOf(eps []model.Endpoint, module string) (string, bool) {
	for _, e := range eps {
		if e.Identifier == module {
			return e.URL, true
		}
	}
	return "", false
}
