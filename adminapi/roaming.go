package adminapi

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/partner"
)

// Roaming resources (003 → Roaming): our own OCPI parties, roaming
// partners, agreements. They are shared across administrations, so they are
// not administration-scoped; the "roaming" permission family guards them.

type ownPartyView struct {
	ID                uuid.UUID  `json:"id"`
	ExternalReference *string    `json:"external_reference"`
	CountryCode       string     `json:"country_code"`
	PartyID           string     `json:"party_id"`
	Role              string     `json:"role"`
	Name              string     `json:"name"`
	Website           *string    `json:"website"`
	LogoURL           *string    `json:"logo_url"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

type ownPartyInput struct {
	ExternalReference *string    `json:"external_reference"`
	CountryCode       string     `json:"country_code"`
	PartyID           string     `json:"party_id"`
	Role              string     `json:"role"`
	Name              string     `json:"name"`
	Website           *string    `json:"website"`
	LogoURL           *string    `json:"logo_url"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
}

// An own party's identity (country code, party id, role) is fixed once
// created: partners address us by it.
func ownPartyResource() *resource[partner.OwnParty, ownPartyView, ownPartyInput] {
	return &resource[partner.OwnParty, ownPartyView, ownPartyInput]{
		name: "own-party", table: "own_party", family: "roaming",
		filters:   []string{"role", "external_reference"},
		implicit:  []string{"external_reference"},
		immutable: []string{"country_code", "party_id", "role"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (partner.OwnParty, error) {
			return db.OwnParty(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]partner.OwnParty, error) {
			role, err := filterChecked(a.Filters, "role", func(v string) bool { return v == "CPO" || v == "EMSP" }, "CPO or EMSP")
			if err != nil {
				return nil, err
			}
			return db.ListOwnParties(ctx, q, gen.ListOwnPartiesParams{After: seek(a.After), Role: role,
				ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit})
		},
		view: func(o partner.OwnParty) ownPartyView {
			return ownPartyView{ID: o.ID, ExternalReference: o.ExternalReference, CountryCode: o.CountryCode, PartyID: o.PartyID,
				Role: string(o.Role), Name: o.Name, Website: o.Website, LogoURL: o.LogoURL, ExternalUpdatedAt: utcPtr(o.ExternalUpdatedAt),
				CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC()}
		},
		build: func(w writeCtx, in ownPartyInput, cur *partner.OwnParty) (partner.OwnParty, error) {
			var o partner.OwnParty
			if cur != nil {
				o = *cur
			} else {
				o.CountryCode, o.PartyID, o.Role = in.CountryCode, in.PartyID, partner.Role(in.Role)
			}
			o.ExternalReference, o.Name, o.Website, o.LogoURL = in.ExternalReference, in.Name, in.Website, in.LogoURL
			o.Normalize()
			return o, o.Validate()
		},
		save: db.SaveOwnParty,
		meta: func(o *partner.OwnParty) meta {
			return meta{&o.ID, &o.ExternalReference, &o.ExternalUpdatedAt, &o.CreatedAt, &o.UpdatedAt}
		},
		scope: func(partner.OwnParty) *uuid.UUID { return nil },
	}
}

type partyIDView struct {
	Party        string     `json:"party"`
	CountryCode  string     `json:"country_code"`
	PartyID      string     `json:"party_id"`
	Role         string     `json:"role"`
	ConnectionID *uuid.UUID `json:"connection_id"`
	HubStatus    *string    `json:"hub_status"`
}

type partnerView struct {
	ID                uuid.UUID     `json:"id"`
	ExternalReference *string       `json:"external_reference"`
	Name              string        `json:"name"`
	Country           string        `json:"country"`
	PartyIDs          []partyIDView `json:"party_ids"`
	ExternalUpdatedAt *time.Time    `json:"external_updated_at"`
	CreatedAt         time.Time     `json:"created_at"`
	UpdatedAt         time.Time     `json:"updated_at"`
}

type partyIDInput struct {
	Party string `json:"party"`
	Role  string `json:"role"`
}

type partnerInput struct {
	ExternalReference *string        `json:"external_reference"`
	Name              string         `json:"name"`
	Country           string         `json:"country"`
	PartyIDs          []partyIDInput `json:"party_ids"`
	ExternalUpdatedAt *time.Time     `json:"external_updated_at"`
}

// A roaming partner lists its OCPI party ids as "NL-TDR" (separator
// optional on input, stored normalised). Party ids learnt from a hub keep
// their connection and hub status when an operator edits the list.
func partnerResource() *resource[partner.Partner, partnerView, partnerInput] {
	return &resource[partner.Partner, partnerView, partnerInput]{
		name: "roaming-partner", table: "party", family: "roaming",
		filters:  []string{"party", "connection_id", "external_reference"},
		implicit: []string{"external_reference"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (partner.Partner, error) {
			return db.Partner(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]partner.Partner, error) {
			p := gen.ListPartnersParams{After: seek(a.After), ExternalReference: filterString(a.Filters, "external_reference"), PageLimit: a.Limit}
			if v := a.Filters.Get("party"); v != "" {
				ref, ok := partner.ParsePartyRef(v)
				if !ok {
					return nil, badRequest("invalid_parameter", "invalid query parameter", field("party", "must be a country code and party id such as NL-TDR"))
				}
				p.CountryCode, p.PartyID = &ref.CountryCode, &ref.PartyID
			}
			conn, err := filterUUID(a.Filters, "connection_id")
			if err != nil {
				return nil, err
			}
			p.ConnectionID = conn
			return db.ListPartners(ctx, q, p)
		},
		view: func(p partner.Partner) partnerView {
			v := partnerView{ID: p.ID, ExternalReference: p.ExternalReference, Name: p.Name, Country: p.Country, PartyIDs: []partyIDView{},
				ExternalUpdatedAt: utcPtr(p.ExternalUpdatedAt), CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
			for _, id := range p.PartyIDs {
				v.PartyIDs = append(v.PartyIDs, partyIDView{Party: id.String(), CountryCode: id.CountryCode, PartyID: id.PartyID,
					Role: string(id.Role), ConnectionID: id.ConnectionID, HubStatus: id.HubStatus})
			}
			return v
		},
		build: func(w writeCtx, in partnerInput, cur *partner.Partner) (partner.Partner, error) {
			var p partner.Partner
			if cur != nil {
				p = *cur
			}
			p.ExternalReference, p.Name, p.Country = in.ExternalReference, in.Name, in.Country
			known := map[string]partner.PartnerPartyID{}
			if cur != nil {
				for _, id := range cur.PartyIDs {
					known[id.String()+"/"+string(id.Role)] = id
				}
			}
			p.PartyIDs = make([]partner.PartnerPartyID, len(in.PartyIDs))
			for i, x := range in.PartyIDs {
				ref, _ := partner.ParsePartyRef(x.Party)
				id := partner.PartnerPartyID{PartyRef: ref, Role: partner.Role(strings.ToUpper(x.Role))}
				if k, ok := known[id.String()+"/"+string(id.Role)]; ok {
					id.ConnectionID, id.HubStatus = k.ConnectionID, k.HubStatus
				}
				p.PartyIDs[i] = id
			}
			return p, p.Validate()
		},
		save: db.SavePartner,
		meta: func(p *partner.Partner) meta {
			return meta{&p.ID, &p.ExternalReference, &p.ExternalUpdatedAt, &p.CreatedAt, &p.UpdatedAt}
		},
		scope: func(partner.Partner) *uuid.UUID { return nil },
	}
}

type agreementView struct {
	ID                uuid.UUID  `json:"id"`
	ExternalReference *string    `json:"external_reference"`
	PartnerID         uuid.UUID  `json:"partner_id"`
	Role              string     `json:"role"`
	ValidFrom         *time.Time `json:"valid_from"`
	ValidUntil        *time.Time `json:"valid_until"`
	ExternalUpdatedAt *time.Time `json:"external_updated_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

type agreementInput struct {
	ExternalReference        *string    `json:"external_reference"`
	PartnerID                *uuid.UUID `json:"partner_id"`
	PartnerExternalReference *string    `json:"partner_external_reference"`
	Role                     string     `json:"role"`
	ValidFrom                *time.Time `json:"valid_from"`
	ValidUntil               *time.Time `json:"valid_until"`
	ExternalUpdatedAt        *time.Time `json:"external_updated_at"`
}

// An agreement belongs to one partner for good; per partner and role only
// one agreement is valid at any instant (enforced by the database).
func agreementResource() *resource[partner.Agreement, agreementView, agreementInput] {
	return &resource[partner.Agreement, agreementView, agreementInput]{
		name: "roaming-agreement", table: "roaming_agreement", family: "roaming",
		filters:   []string{"partner_id", "role", "external_reference", "valid_at"},
		implicit:  []string{"external_reference", "valid_from"},
		immutable: []string{"partner_id", "partner_external_reference"},
		load: func(ctx context.Context, q db.Querier, k key, lock bool) (partner.Agreement, error) {
			return db.Agreement(ctx, q, k.ID, k.Ref, lock)
		},
		list: func(ctx context.Context, q db.Querier, a listArgs) ([]partner.Agreement, error) {
			pid, err := filterUUID(a.Filters, "partner_id")
			if err != nil {
				return nil, err
			}
			role, err := filterChecked(a.Filters, "role", func(v string) bool { return v == "cpo" || v == "msp" }, "cpo or msp")
			if err != nil {
				return nil, err
			}
			at, err := filterTime(a.Filters, "valid_at")
			if err != nil {
				return nil, err
			}
			return db.ListAgreements(ctx, q, gen.ListAgreementsParams{After: seek(a.After), PartnerID: pid, Role: role,
				ExternalReference: filterString(a.Filters, "external_reference"), ValidAt: at, PageLimit: a.Limit})
		},
		view: func(a partner.Agreement) agreementView {
			return agreementView{ID: a.ID, ExternalReference: a.ExternalReference, PartnerID: a.PartnerID, Role: string(a.Role),
				ValidFrom: utcPtr(a.ValidFrom), ValidUntil: utcPtr(a.ValidUntil), ExternalUpdatedAt: utcPtr(a.ExternalUpdatedAt),
				CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
		},
		build: func(w writeCtx, in agreementInput, cur *partner.Agreement) (partner.Agreement, error) {
			var a partner.Agreement
			if cur != nil {
				a = *cur
			} else {
				p, err := resolveRef(w, in.PartnerID, in.PartnerExternalReference, "partner", func(id *uuid.UUID, ref string) (partner.Partner, error) {
					return db.Partner(w.Ctx, w.Tx, id, ref, false)
				})
				if err != nil {
					return a, err
				}
				a.PartnerID = p.ID
			}
			a.ExternalReference, a.Role, a.ValidFrom, a.ValidUntil = in.ExternalReference, partner.AgreementRole(in.Role), in.ValidFrom, in.ValidUntil
			a.Normalize()
			return a, a.Validate()
		},
		save: db.SaveAgreement,
		meta: func(a *partner.Agreement) meta {
			return meta{&a.ID, &a.ExternalReference, &a.ExternalUpdatedAt, &a.CreatedAt, &a.UpdatedAt}
		},
		scope: func(partner.Agreement) *uuid.UUID { return nil },
	}
}
