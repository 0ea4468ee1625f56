// Package session holds the rules of the charge-session pipeline (TandemDrive
// guide 003 → "Charge Sessions", "Drop-outs", "Charge Point Operators →
// Charge sessions"): what a processed charge session is, the states it moves
// through, the basic checks that make a CDR usable at all, the location
// match with its retry schedule, the validity checks with their per
// administration and per partner thresholds, and how failed sessions group
// into drop-out cases.
//
// The package decides; it does not store or send. The worker loads a
// session, asks Process what the next step's outcome is, and commits that
// outcome with its outbox event in one transaction, so that every step is
// safe to run twice.
package session

import (
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// Side says whose charge session it is: MSP sessions are partners' CDRs for
// our drivers (priced for our customers); CPO sessions happened at our own
// charge points (reported by our charge management system, sent to eMSPs).
type Side string

// The two sides.
const (
	MSP Side = "msp"
	CPO Side = "cpo"
)

// State is where a charge session is in the pipeline. The pending states
// (Received, Matching, Validating) are the ones the worker claims when due.
type State string

// The pipeline states. ReadyForPricing is where the checks hand over to
// pricing: when the session's side has pricers (Pipeline.Pricers) it is
// owed the pricing step and moves on to Priced (or DroppedOut at a pricing
// check); without pricers it stays there.
const (
	Received        State = "received"
	Matching        State = "matching"
	Validating      State = "validating"
	DroppedOut      State = "dropped_out"
	ReadyForPricing State = "ready_for_pricing"
	Priced          State = "priced"
	Discarded       State = "discarded"
)

// Pending reports whether work is owed on a session in state s whatever the
// pipeline's pricers (ReadyForPricing is owed only with pricers; see
// Pipeline.Owes).
func (s State) Pending() bool { return s == Received || s == Matching || s == Validating }

// ChargeSession is a CDR on its way through the pipeline: the facts the
// checks need, copied from the CDR, plus the pipeline's own state. The
// original payload is kept by the store next to it, unchanged.
type ChargeSession struct {
	ID               uuid.UUID
	Side             Side
	AdministrationID *uuid.UUID
	// PartnerID is the roaming partner the CDR came from (MSP) or goes to
	// (CPO, once the token's owner is known).
	PartnerID *uuid.UUID
	// CountryCode and PartyID are the CPO party that owns the CDR; CdrID is
	// unique per CPO party (mod_cdrs "CDR Object" → id).
	CountryCode string
	PartyID     string
	CdrID       string
	SessionID   string
	Start       time.Time
	End         time.Time
	Token       Token
	Location    Place
	Currency    string
	// TotalEnergy in kWh, TotalTime and TotalParkingTime in hours.
	TotalEnergy      decimal.Decimal
	TotalTime        decimal.Decimal
	TotalParkingTime decimal.Decimal
	// Credit CDRs reverse an earlier CDR (mod_cdrs "Credit CDRs").
	Credit            bool
	CreditReferenceID string
	// AuthorizationReference is the CDR's reference to the eMSP's
	// authorization (mod_cdrs: the real-time authorization's reference,
	// when one was given); "" when it carries none.
	AuthorizationReference string

	State    State
	Attempts int // failed match attempts so far
	// Bypass names checks an operator chose to skip when reprocessing.
	Bypass []Check
	// Match is what the match step found; nil before it succeeded.
	Match      *Match
	ReceivedAt time.Time
	// CMSReimbursement is the reimbursement (excluding VAT) our charge
	// management system computed for a CPO session, when it reported one
	// (guide 003 → Reimbursements: "Using the CPMS provided
	// reimbursement"); nil otherwise.
	CMSReimbursement *decimal.Decimal
}

// Token is the token a session was authorized with (mod_cdrs "CdrToken").
type Token struct {
	CountryCode string
	PartyID     string
	UID         string
	Type        string
	ContractID  string
}

// Place is where the CDR says the session happened (mod_cdrs "CdrLocation").
type Place struct {
	LocationID  string
	EvseUID     string
	EvseID      string
	ConnectorID string
	// PowerType and the connector's power as the CDR reports them; the
	// matched connector's own values win when known.
	PowerType string
	Country   string
}

// Match identifies the location, EVSE and connector the session was matched
// to, with what the validity checks need of them.
type Match struct {
	LocationID uuid.UUID
	// EvseID is the EVSE's record id where it has one (our own EVSEs);
	// partners' EVSEs are identified by location and EvseUID.
	EvseID      uuid.UUID
	EvseUID     string
	ConnectorID string
	// MaxPowerKW is the connector's maximum power; zero when unknown.
	MaxPowerKW decimal.Decimal
	// DropoutAll is the EVSE's dropout_all_chargesessions flag.
	DropoutAll bool
	TimeZone   string
}
