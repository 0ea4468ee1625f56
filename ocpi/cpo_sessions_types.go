package ocpi

// Wire types of the Sessions module as we send them in the CPO role
// (mod_sessions.asciidoc, "Object description"): the Session object our
// Sessions sender serves and pushes, and the Charging Preferences an eMSP
// may PUT on our sender. (The eMSP side's receiver has its own file; these
// names are the CPO side's so the two never collide.)

// Session statuses (mod_sessions → "SessionStatus enum").
const (
	SessionActive      = "ACTIVE"
	SessionCompleted   = "COMPLETED"
	SessionInvalid     = "INVALID"
	SessionPending     = "PENDING"
	SessionReservation = "RESERVATION"
)

// IsSessionStatus reports whether s is a SessionStatus.
func IsSessionStatus(s string) bool {
	switch s {
	case SessionActive, SessionCompleted, SessionInvalid, SessionPending, SessionReservation:
		return true
	}
	return false
}

// CPOSession is the OCPI 2.2.1 Session object (mod_sessions → "Session
// Object") of a session at one of our charge points.
type CPOSession struct {
	// CountryCode and PartyID are our CPO party that owns the session.
	CountryCode   string    `json:"country_code" validate:"required,ocpi_country"`
	PartyID       string    `json:"party_id" validate:"required,ocpi_party"`
	ID            string    `json:"id" validate:"required,max=36,cistring"`
	StartDateTime DateTime  `json:"start_date_time" validate:"required"`
	EndDateTime   *DateTime `json:"end_date_time,omitempty"`
	// Kwh is how many kWh were charged so far.
	Kwh                    Number           `json:"kwh"`
	CdrToken               CdrToken         `json:"cdr_token"`
	AuthMethod             AuthMethod       `json:"auth_method" validate:"required,oneof=AUTH_REQUEST COMMAND WHITELIST"`
	AuthorizationReference string           `json:"authorization_reference,omitempty" validate:"omitempty,max=36,cistring"`
	LocationID             string           `json:"location_id" validate:"required,max=36,cistring"`
	EvseUID                string           `json:"evse_uid" validate:"required,max=36,cistring"`
	ConnectorID            string           `json:"connector_id" validate:"required,max=36,cistring"`
	MeterID                string           `json:"meter_id,omitempty" validate:"omitempty,max=255,ocpi_string"`
	Currency               string           `json:"currency" validate:"required,len=3"`
	ChargingPeriods        []ChargingPeriod `json:"charging_periods,omitempty"`
	TotalCost              *Price           `json:"total_cost,omitempty"`
	Status                 string           `json:"status" validate:"required,oneof=ACTIVE COMPLETED INVALID PENDING RESERVATION"`
	LastUpdated            DateTime         `json:"last_updated" validate:"required"`
}

// ChargingPreferences are an EV driver's preferences for an ongoing
// session (mod_sessions → "ChargingPreferences Object").
type ChargingPreferences struct {
	// ProfileType is CHEAP, FAST, GREEN or REGULAR.
	ProfileType      string    `json:"profile_type" validate:"required,oneof=CHEAP FAST GREEN REGULAR"`
	DepartureTime    *DateTime `json:"departure_time,omitempty"`
	EnergyNeed       *Number   `json:"energy_need,omitempty"`
	DischargeAllowed *bool     `json:"discharge_allowed,omitempty"`
}

// Charging preferences responses (mod_sessions → "ChargingPreferencesResponse enum").
const (
	PreferencesAccepted          = "ACCEPTED"
	PreferencesDepartureRequired = "DEPARTURE_REQUIRED"
	PreferencesEnergyRequired    = "ENERGY_NEED_REQUIRED"
	PreferencesNotPossible       = "NOT_POSSIBLE"
	PreferencesProfileNotSupport = "PROFILE_TYPE_NOT_SUPPORTED"
)
