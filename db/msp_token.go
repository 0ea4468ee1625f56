package db

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/token"
)

// Stores of the MSP token model (guide 003 → Mobility Service Provider):
// tokens, subscription plans, subscriptions and token links for the Admin
// API, and issued tokens (a token with all its links and their
// subscriptions) for the OCPI Tokens sender, the token push and real-time
// authorization. The Admin API works on the generated row types directly:
// they are the records, with nothing to add.

// MSPToken loads a token by id or external reference.
func MSPToken(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (gen.MspToken, error) {
	return lookup(ctx, "msp token", id, ref, lock, Q(q).GetMSPToken, Q(q).LockMSPToken, Q(q).GetMSPTokenByRef, Q(q).LockMSPTokenByRef)
}

// ListMSPTokens returns a page of tokens.
func ListMSPTokens(ctx context.Context, q Querier, p gen.ListMSPTokensParams) ([]gen.MspToken, error) {
	return Q(q).ListMSPTokens(ctx, p)
}

// SaveMSPToken inserts or updates a token; its administration is immutable.
// A second token with the same EVCO ID, or with the same UID (ignoring
// case) and type, is a duplicate on that field.
func SaveMSPToken(ctx context.Context, q Querier, t gen.MspToken, isNew bool) error {
	var err error
	if isNew {
		err = Q(q).InsertMSPToken(ctx, gen.InsertMSPTokenParams{ID: t.ID, AdministrationID: t.AdministrationID,
			ExternalReference: t.ExternalReference, EvcoID: t.EvcoID, CountryCode: t.CountryCode, PartyID: t.PartyID, Uid: t.Uid,
			UidKey: t.UidKey, Type: t.Type, FormFactor: t.FormFactor, Brand: t.Brand, Issuer: t.Issuer, VisualNumber: t.VisualNumber,
			GroupID: t.GroupID, Language: t.Language, Whitelist: t.Whitelist, ExternalUpdatedAt: t.ExternalUpdatedAt,
			CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, DefaultProfileType: t.DefaultProfileType,
			EnergyContractSupplierName: t.EnergyContractSupplierName, EnergyContractContractID: t.EnergyContractContractID})
	} else {
		err = Q(q).UpdateMSPToken(ctx, gen.UpdateMSPTokenParams{ID: t.ID, ExternalReference: t.ExternalReference, EvcoID: t.EvcoID,
			CountryCode: t.CountryCode, PartyID: t.PartyID, Uid: t.Uid, UidKey: t.UidKey, Type: t.Type, FormFactor: t.FormFactor,
			Brand: t.Brand, Issuer: t.Issuer, VisualNumber: t.VisualNumber, GroupID: t.GroupID, Language: t.Language,
			Whitelist: t.Whitelist, ExternalUpdatedAt: t.ExternalUpdatedAt, UpdatedAt: t.UpdatedAt, DefaultProfileType: t.DefaultProfileType,
			EnergyContractSupplierName: t.EnergyContractSupplierName, EnergyContractContractID: t.EnergyContractContractID})
	}
	switch _, constraint := pgCode(err); constraint {
	case "msp_token_evco_id_key":
		return duplicateOn("evco_id", "another token has this EVCO ID")
	case "msp_token_uid_type_key":
		return duplicateOn("uid", "another token of this type has this UID (UIDs compare case-insensitively)")
	}
	return Translate(err)
}

// duplicateOn is a duplicate-value conflict on one field.
func duplicateOn(path, message string) error {
	return &fault.Error{Kind: fault.KindConflict, Code: "duplicate", Message: "a record with this value already exists",
		Fields: []fault.Field{{Path: path, Message: message}}}
}

// MSPTokenSubscriptionPlan loads a subscription plan by id or external reference.
func MSPTokenSubscriptionPlan(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (gen.MspTokenSubscriptionPlan, error) {
	return lookup(ctx, "msp token subscription plan", id, ref, lock, Q(q).GetMSPTokenSubscriptionPlan, Q(q).LockMSPTokenSubscriptionPlan,
		Q(q).GetMSPTokenSubscriptionPlanByRef, Q(q).LockMSPTokenSubscriptionPlanByRef)
}

// ListMSPTokenSubscriptionPlans returns a page of subscription plans.
func ListMSPTokenSubscriptionPlans(ctx context.Context, q Querier, p gen.ListMSPTokenSubscriptionPlansParams) ([]gen.MspTokenSubscriptionPlan, error) {
	return Q(q).ListMSPTokenSubscriptionPlans(ctx, p)
}

// SaveMSPTokenSubscriptionPlan inserts or updates a plan; its administration is immutable.
func SaveMSPTokenSubscriptionPlan(ctx context.Context, q Querier, p gen.MspTokenSubscriptionPlan, isNew bool) error {
	if isNew {
		return Translate(Q(q).InsertMSPTokenSubscriptionPlan(ctx, gen.InsertMSPTokenSubscriptionPlanParams{ID: p.ID,
			AdministrationID: p.AdministrationID, ExternalReference: p.ExternalReference, Name: p.Name, Description: p.Description,
			RatePlanID: p.RatePlanID, PublishFrom: p.PublishFrom, PublishUntil: p.PublishUntil, ExternalUpdatedAt: p.ExternalUpdatedAt,
			CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, UseCustomerReimbursementVat: p.UseCustomerReimbursementVat}))
	}
	return Translate(Q(q).UpdateMSPTokenSubscriptionPlan(ctx, gen.UpdateMSPTokenSubscriptionPlanParams{ID: p.ID,
		ExternalReference: p.ExternalReference, Name: p.Name, Description: p.Description, RatePlanID: p.RatePlanID,
		PublishFrom: p.PublishFrom, PublishUntil: p.PublishUntil, ExternalUpdatedAt: p.ExternalUpdatedAt, UpdatedAt: p.UpdatedAt,
		UseCustomerReimbursementVat: p.UseCustomerReimbursementVat}))
}

// MSPTokenSubscription loads a subscription by id or external reference.
func MSPTokenSubscription(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (gen.MspTokenSubscription, error) {
	return lookup(ctx, "msp token subscription", id, ref, lock, Q(q).GetMSPTokenSubscription, Q(q).LockMSPTokenSubscription,
		Q(q).GetMSPTokenSubscriptionByRef, Q(q).LockMSPTokenSubscriptionByRef)
}

// ListMSPTokenSubscriptions returns a page of subscriptions.
func ListMSPTokenSubscriptions(ctx context.Context, q Querier, p gen.ListMSPTokenSubscriptionsParams) ([]gen.MspTokenSubscription, error) {
	return Q(q).ListMSPTokenSubscriptions(ctx, p)
}

// SaveMSPTokenSubscription inserts or updates a subscription; customer,
// plan and administration are immutable.
func SaveMSPTokenSubscription(ctx context.Context, q Querier, s gen.MspTokenSubscription, isNew bool) error {
	if isNew {
		return Translate(Q(q).InsertMSPTokenSubscription(ctx, gen.InsertMSPTokenSubscriptionParams{ID: s.ID,
			AdministrationID: s.AdministrationID, ExternalReference: s.ExternalReference, CustomerID: s.CustomerID, PlanID: s.PlanID,
			BuyerReference: s.BuyerReference, ValidFrom: s.ValidFrom, ValidUntil: s.ValidUntil, Defunct: s.Defunct,
			ExternalUpdatedAt: s.ExternalUpdatedAt, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}))
	}
	return Translate(Q(q).UpdateMSPTokenSubscription(ctx, gen.UpdateMSPTokenSubscriptionParams{ID: s.ID,
		ExternalReference: s.ExternalReference, BuyerReference: s.BuyerReference, ValidFrom: s.ValidFrom, ValidUntil: s.ValidUntil,
		Defunct: s.Defunct, ExternalUpdatedAt: s.ExternalUpdatedAt, UpdatedAt: s.UpdatedAt}))
}

// DefunctLinksOfSubscription marks every live link of a subscription
// defunct as of at and returns them as they are now; call it in the
// transaction that marks the subscription defunct.
func DefunctLinksOfSubscription(ctx context.Context, q Querier, subscriptionID uuid.UUID, at time.Time) ([]gen.MspTokenLink, error) {
	return Q(q).DefunctMSPTokenLinksOfSubscription(ctx, gen.DefunctMSPTokenLinksOfSubscriptionParams{SubscriptionID: subscriptionID, UpdatedAt: at})
}

// MSPTokenLink is a token link with its subscription's administration (the
// API scope it belongs to).
type MSPTokenLink struct {
	gen.MspTokenLink
	AdministrationID uuid.UUID
}

// MSPTokenLinkOf loads a token link by id or external reference.
func MSPTokenLinkOf(ctx context.Context, q Querier, id *uuid.UUID, ref string, lock bool) (MSPTokenLink, error) {
	r, err := lookup(ctx, "msp token link", id, ref, lock, Q(q).GetMSPTokenLink,
		func(ctx context.Context, id uuid.UUID) (gen.GetMSPTokenLinkRow, error) {
			r, err := Q(q).LockMSPTokenLink(ctx, id)
			return gen.GetMSPTokenLinkRow(r), err
		},
		func(ctx context.Context, ref *string) (gen.GetMSPTokenLinkRow, error) {
			r, err := Q(q).GetMSPTokenLinkByRef(ctx, ref)
			return gen.GetMSPTokenLinkRow(r), err
		},
		func(ctx context.Context, ref *string) (gen.GetMSPTokenLinkRow, error) {
			r, err := Q(q).LockMSPTokenLinkByRef(ctx, ref)
			return gen.GetMSPTokenLinkRow(r), err
		})
	return linkOf(r), err
}

func linkOf(r gen.GetMSPTokenLinkRow) MSPTokenLink {
	return MSPTokenLink{MspTokenLink: gen.MspTokenLink{ID: r.ID, ExternalReference: r.ExternalReference, TokenID: r.TokenID,
		SubscriptionID: r.SubscriptionID, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, Defunct: r.Defunct,
		ExternalUpdatedAt: r.ExternalUpdatedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, AdministrationID: r.AdministrationID}
}

// ListMSPTokenLinks returns a page of token links.
func ListMSPTokenLinks(ctx context.Context, q Querier, p gen.ListMSPTokenLinksParams) ([]MSPTokenLink, error) {
	rows, err := Q(q).ListMSPTokenLinks(ctx, p)
	return mapAll(rows, func(r gen.ListMSPTokenLinksRow) MSPTokenLink { return linkOf(gen.GetMSPTokenLinkRow(r)) }), err
}

// SaveMSPTokenLink inserts or updates a token link; token and subscription
// are immutable. A live link overlapping another live link of the same
// token violates the database's exclusion constraint and is reported as
// overlapping_validity.
func SaveMSPTokenLink(ctx context.Context, q Querier, l gen.MspTokenLink, isNew bool) error {
	var err error
	if isNew {
		err = Q(q).InsertMSPTokenLink(ctx, gen.InsertMSPTokenLinkParams{ID: l.ID, ExternalReference: l.ExternalReference,
			TokenID: l.TokenID, SubscriptionID: l.SubscriptionID, ValidFrom: l.ValidFrom, ValidUntil: l.ValidUntil, Defunct: l.Defunct,
			ExternalUpdatedAt: l.ExternalUpdatedAt, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt})
	} else {
		err = Q(q).UpdateMSPTokenLink(ctx, gen.UpdateMSPTokenLinkParams{ID: l.ID, ExternalReference: l.ExternalReference,
			ValidFrom: l.ValidFrom, ValidUntil: l.ValidUntil, Defunct: l.Defunct, ExternalUpdatedAt: l.ExternalUpdatedAt,
			UpdatedAt: l.UpdatedAt})
	}
	if code, _ := pgCode(err); code == codeExclusionViolation {
		return &fault.Error{Kind: fault.KindConflict, Code: "overlapping_validity",
			Message: "a token can belong to only one subscription at a time",
			Fields: []fault.Field{{Path: "valid_from", Message: "overlaps the validity period of another live link of this token; " +
				"to move the token, set valid_until of the current link and the same instant as valid_from of the new one"}}}
	}
	return Translate(err)
}

// ---- issued tokens

// issuedRow is the shape shared by the issued-token queries: the token's
// columns and, per row, one link with its subscription (all nil when the
// token has no link).
type issuedRow = gen.IssuedTokenByUIDRow

// IssuedTokenByUID loads the token with this UID (compared ignoring case)
// and type, with all its links and their subscriptions (one indexed query)
// and RulesChangedAt (the token push renders it; real-time authorization
// uses the group lookup, TokenLookup). An unknown token is a
// fault.NotFound.
func IssuedTokenByUID(ctx context.Context, q Querier, uid token.UID, typ token.Type) (token.Issued, error) {
	rows, err := Q(q).IssuedTokenByUID(ctx, gen.IssuedTokenByUIDParams{UidKey: uid.Key(), Type: string(typ)})
	if err != nil {
		return token.Issued{}, err
	}
	out := assembleIssued(rows)
	if len(out) == 0 {
		return token.Issued{}, fault.NotFound("not_found", "token %s of type %s does not exist", uid, typ)
	}
	return out[0], fillRulesChangedAt(ctx, q, out)
}

// IssuedTokens loads tokens by id with all their links and subscriptions,
// in id order (with RulesChangedAt); unknown ids are skipped. The Tokens
// sender and the token push render each with authrule.Publish and
// ocpi.TokenWithState.
func IssuedTokens(ctx context.Context, q Querier, ids []uuid.UUID) ([]token.Issued, error) {
	rows, err := Q(q).IssuedTokensByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := assembleIssued(mapAll(rows, func(r gen.IssuedTokensByIDRow) issuedRow { return issuedRow(r) }))
	return out, fillRulesChangedAt(ctx, q, out)
}

// IssuedToken loads one token by id (see IssuedTokens); an unknown id is a
// fault.NotFound.
func IssuedToken(ctx context.Context, q Querier, id uuid.UUID) (token.Issued, error) {
	ts, err := IssuedTokens(ctx, q, []uuid.UUID{id})
	if err != nil {
		return token.Issued{}, err
	}
	if len(ts) == 0 {
		return token.Issued{}, fault.NotFound("not_found", "msp token %s does not exist", id)
	}
	return ts[0], nil
}

// assembleIssued groups consecutive rows of one token into a token.Issued.
func assembleIssued(rows []issuedRow) []token.Issued {
	var out []token.Issued
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].ID != r.ID {
			out = append(out, token.Issued{ID: r.ID, AdministrationID: r.AdministrationID, CountryCode: r.CountryCode, PartyID: r.PartyID, UID: token.UID(r.Uid),
				Type: token.Type(r.Type), ContractID: r.EvcoID, Issuer: r.Issuer, VisualNumber: r.VisualNumber, GroupID: r.GroupID,
				Language: r.Language, Whitelist: token.Whitelist(mspDeref(r.Whitelist)), UpdatedAt: r.UpdatedAt,
				DefaultProfileType: r.DefaultProfileType, EnergyContract: energyContractOf(r.EnergyContractSupplierName, r.EnergyContractContractID)})
		}
		if r.LinkID == nil {
			continue
		}
		t := &out[len(out)-1]
		t.Links = append(t.Links, token.Link{ID: *r.LinkID, TokenID: r.ID, Period: periodOf(r.LinkValidFrom, r.LinkValidUntil),
			Defunct: *r.LinkDefunct, UpdatedAt: *r.LinkUpdatedAt,
			Subscription: token.Subscription{ID: *r.SubID, PlanID: mspDerefID(r.SubPlanID), Period: periodOf(r.SubValidFrom, r.SubValidUntil), Defunct: *r.SubDefunct,
				UpdatedAt: *r.SubUpdatedAt}})
	}
	return out
}

// energyContractOf rebuilds a token's energy contract (nil without a
// supplier).
func energyContractOf(supplier, contract *string) *token.EnergyContract {
	if supplier == nil {
		return nil
	}
	return &token.EnergyContract{SupplierName: *supplier, ContractID: contract}
}

// periodOf rebuilds a stored validity period. Rows written through the API
// hold whole minutes with valid_until > valid_from (a CHECK constraint), so
// NewPeriod accepts them; a row that does not (written by hand) fails
// closed: a period that starts at the end of time never makes a token valid.
func periodOf(from, until *time.Time) token.Period {
	p, err := token.NewPeriod(from, until)
	if err != nil {
		never := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
		p, _ = token.NewPeriod(&never, nil)
	}
	return p
}

func mspDerefID(id *uuid.UUID) uuid.UUID {
	if id == nil {
		return uuid.Nil
	}
	return *id
}

func mspDeref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// IssuedTokenPage is one page of the Tokens sender's list.
type IssuedTokenPage struct {
	// Tokens of the page, oldest last_updated first.
	Tokens []token.Issued
	// Total is the number of tokens matching the filters (offset and limit
	// excluded).
	Total int
}

// IssuedTokenFilter selects the tokens of a Tokens sender list request.
type IssuedTokenFilter struct {
	// At is the instant at which last_updated is computed (now).
	At time.Time
	// DateFrom (inclusive) and DateTo (exclusive) bound last_updated; nil is unbounded.
	DateFrom, DateTo *time.Time
	// CountryCode and PartyID, when set, keep only that eMSP party's tokens.
	CountryCode, PartyID string
	Offset, Limit        int
}

// ListIssuedTokens returns one page of issued tokens ordered by their OCPI
// last_updated at f.At (token.Issued.State; the SQL computes the same value
// to filter and order) and then id.
func ListIssuedTokens(ctx context.Context, q Querier, f IssuedTokenFilter) (IssuedTokenPage, error) {
	p := gen.ListIssuedTokenIDsParams{At: f.At, DateFrom: f.DateFrom, DateTo: f.DateTo, PageOffset: int32(f.Offset), PageLimit: int32(f.Limit)}
	if f.CountryCode != "" {
		p.CountryCode, p.PartyID = &f.CountryCode, &f.PartyID
	}
	rows, err := Q(q).ListIssuedTokenIDs(ctx, p)
	if err != nil {
		return IssuedTokenPage{}, err
	}
	if len(rows) == 0 && f.Offset > 0 {
		// Past the end: the window count is only on rows; ask for the first
		// row to learn the total.
		p.PageOffset, p.PageLimit = 0, 1
		if rows, err = Q(q).ListIssuedTokenIDs(ctx, p); err != nil {
			return IssuedTokenPage{}, err
		}
		if len(rows) == 0 {
			return IssuedTokenPage{}, nil
		}
		return IssuedTokenPage{Total: int(rows[0].Total)}, nil
	}
	if len(rows) == 0 {
		return IssuedTokenPage{}, nil
	}
	ids := mapAll(rows, func(r gen.ListIssuedTokenIDsRow) uuid.UUID { return r.ID })
	ts, err := IssuedTokens(ctx, q, ids)
	if err != nil {
		return IssuedTokenPage{}, err
	}
	byID := make(map[uuid.UUID]token.Issued, len(ts))
	for _, t := range ts {
		byID[t.ID] = t
	}
	page := IssuedTokenPage{Total: int(rows[0].Total), Tokens: make([]token.Issued, 0, len(rows))}
	for _, id := range ids { // keep the page's last_updated order
		if t, ok := byID[id]; ok {
			page.Tokens = append(page.Tokens, t)
		}
	}
	return page, nil
}
