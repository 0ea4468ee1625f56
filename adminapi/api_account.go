package adminapi

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/event"
)

// apiAccountView is an API account as the API returns it; the secret is
// never readable back, only returned once on creation and on rotation.
type apiAccountView struct {
	ID                 uuid.UUID   `json:"id"`
	ExternalReference  *string     `json:"external_reference"`
	PublicID           string      `json:"public_id"`
	Name               string      `json:"name"`
	Permissions        []string    `json:"permissions"`
	AllAdministrations bool        `json:"all_administrations"`
	AdministrationIDs  []uuid.UUID `json:"administration_ids"`
	RateLimitRPS       *int        `json:"rate_limit_rps"`
	RateLimitBurst     *int        `json:"rate_limit_burst"`
	Disabled           bool        `json:"disabled"`
	ExternalUpdatedAt  *time.Time  `json:"external_updated_at"`
	CreatedAt          time.Time   `json:"created_at"`
	UpdatedAt          time.Time   `json:"updated_at"`
}

type apiAccountInput struct {
	ExternalReference  *string     `json:"external_reference"`
	PublicID           *string     `json:"public_id"`
	Name               string      `json:"name"`
	Permissions        []string    `json:"permissions"`
	AllAdministrations *bool       `json:"all_administrations"`
	AdministrationIDs  []uuid.UUID `json:"administration_ids"`
	RateLimitRPS       *int        `json:"rate_limit_rps"`
	RateLimitBurst     *int        `json:"rate_limit_burst"`
	Disabled           *bool       `json:"disabled"`
	ExternalUpdatedAt  *time.Time  `json:"external_updated_at"`
}

// newAccount carries a freshly generated secret to the create response.
type newAccount struct {
	access.Account
	secret string
}

func apiAccountResource() *resource[newAccount, apiAccountView, apiAccountInput] {
	return &resource[newAccount, apiAccountView, apiAccountInput]{
		name: "api-account", table: "api_account", family: "api-account",
		filters:   []string{"external_reference"},
		implicit:  []string{"permissions"},
		immutable: []string{"public_id"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (newAccount, error) {
			a, err := db.APIAccount(ctx, q, k.ID, k.Ref, lock)
			return newAccount{Account: a}, err
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]newAccount, error) {
			accts, err := db.ListAPIAccounts(ctx, q, gen.ListAPIAccountsParams{After: seek(a.After),
				ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit})
			out := make([]newAccount, len(accts))
			for i, x := range accts {
				out[i] = newAccount{Account: x}
			}
			return out, err
		},
		view: apiAccountViewOf,
		build: func(w writeCtx, in apiAccountInput, cur *newAccount) (newAccount, error) {
			var a newAccount
			if cur != nil {
				a = *cur
				// Nobody may change an account that holds more than they do.
				if !w.Account.Covers(cur.Account) {
					return a, forbidden("the API account cannot change an account with permissions or administrations it does not hold")
				}
			} else {
				a.secret = access.NewSecret()
				a.SecretHash = access.HashSecret(a.secret)
				a.PublicID = access.NewPublicID()
				if in.PublicID != nil {
					a.PublicID = *in.PublicID
				}
			}
			a.ExternalReference, a.Name, a.Permissions = in.ExternalReference, in.Name, in.Permissions
			if a.Permissions == nil {
				a.Permissions = []string{}
			}
			a.AllAdministrations = in.AllAdministrations != nil && *in.AllAdministrations
			a.AdministrationIDs = nonNil(in.AdministrationIDs)
			a.RateLimitRPS, a.RateLimitBurst = in.RateLimitRPS, in.RateLimitBurst
			a.Disabled = in.Disabled != nil && *in.Disabled
			if err := a.Validate(); err != nil {
				return a, err
			}
			// Nobody can grant more than they hold.
			if !w.Account.Covers(a.Account) {
				return a, forbidden("an API account cannot grant permissions or administrations it does not hold")
			}
			for _, id := range a.AdministrationIDs {
				if _, err := db.Administration(w.Ctx, w.Tx, &id, "", false); err != nil {
					return a, badRequest("reference_not_found", "a referenced record does not exist", field("administration_ids", "no administration has the id "+id.String()))
				}
			}
			return a, nil
		},
		save: func(ctx context.Context, q db.Querier, a newAccount, isNew bool) error {
			return db.SaveAPIAccount(ctx, q, a.Account, isNew)
		},
		meta: func(a *newAccount) meta {
			return meta{&a.ID, &a.ExternalReference, &a.ExternalUpdatedAt, &a.CreatedAt, &a.UpdatedAt}
		},
		scope: func(newAccount) *uuid.UUID { return nil },
		created: func(a newAccount, v apiAccountView) any {
			return struct {
				apiAccountView
				Secret string `json:"secret"`
			}{v, a.secret}
		},
	}
}

func apiAccountViewOf(a newAccount) apiAccountView {
	return apiAccountView{ID: a.ID, ExternalReference: a.ExternalReference, PublicID: a.PublicID, Name: a.Name,
		Permissions: a.Permissions, AllAdministrations: a.AllAdministrations, AdministrationIDs: nonNil(a.AdministrationIDs),
		RateLimitRPS: a.RateLimitRPS, RateLimitBurst: a.RateLimitBurst, Disabled: a.Disabled,
		ExternalUpdatedAt: utcPtr(a.ExternalUpdatedAt), CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
}

// rotateSecret is POST /api-account/{id}/rotate-secret: a new secret
// replaces the old one at once, and is returned this one time.
func rotateSecret(c *fiber.Ctx, rq *request) error {
	k, err := parseKey(c.Params("key"))
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	var out any
	err = db.InTx(ctx, rq.api.pool, func(tx pgx.Tx) error {
		a, err := db.APIAccount(ctx, tx, k.ID, k.Ref, true)
		if err != nil {
			return err
		}
		if !rq.account.Covers(a) {
			return forbidden("the API account cannot change an account with permissions or administrations it does not hold")
		}
		secret := access.NewSecret()
		a.SecretHash, a.UpdatedAt = access.HashSecret(secret), time.Now().UTC()
		if err := db.SaveAPIAccount(ctx, tx, a, false); err != nil {
			return err
		}
		v := apiAccountViewOf(newAccount{Account: a})
		out = struct {
			apiAccountView
			Secret string `json:"secret"`
		}{v, secret}
		rq.api.accounts.forget(a.PublicID)
		return db.AppendEvent(ctx, tx, event.New("api-account", event.Update, nil, v))
	})
	if err != nil {
		return err
	}
	return c.JSON(out)
}
