package partner

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/domain/fault"
)

// ConnectionKind is how a partner is reached.
type ConnectionKind string

// Connection kinds.
const (
	PeerToPeer ConnectionKind = "peer_to_peer"
	Hub        ConnectionKind = "hub"
)

// ConnectionStatus is where a connection is in the credentials lifecycle.
type ConnectionStatus string

// Connection states: pending (created, waiting for registration),
// registered (tokens exchanged), unregistered (credentials deleted by
// either side; a new registration may follow).
const (
	StatusPending      ConnectionStatus = "pending"
	StatusRegistered   ConnectionStatus = "registered"
	StatusUnregistered ConnectionStatus = "unregistered"
)

// Endpoint is one module endpoint of the partner (version details).
type Endpoint struct {
	Identifier string `json:"identifier"`
	Role       string `json:"role"`
	URL        string `json:"url"`
}

// CredentialsRole is one role from the partner's credentials.
type CredentialsRole struct {
	Role        Role   `json:"role"`
	CountryCode string `json:"country_code"`
	PartyID     string `json:"party_id"`
	Name        string `json:"name"`
}

// Connection is a technical link to a partner platform.
type Connection struct {
	ID                uuid.UUID
	ExternalReference *string
	Name              string
	Kind              ConnectionKind
	Status            ConnectionStatus
	InitiatedBy       string // "partner" (they registered with us) or "us"
	OurTokenHash      []byte // what the partner presents to us
	OurTokenHint      *string
	OurTokenIsA       bool   // token A: only versions and credentials
	PendingTokenHash  []byte // a token we issued in a handshake we started
	TheirToken        *string
	TheirTokenHint    *string
	TheirVersionsURL  *string
	Version           *string
	TheirEndpoints    []Endpoint
	TheirRoles        []CredentialsRole
	TokenBase64       bool
	LastContactAt     *time.Time
	StatusMessage     *string
	ExternalUpdatedAt *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Validate checks the operator-editable fields.
func (c Connection) Validate() error {
	var fs fault.Fields
	if c.Name == "" {
		fs.Add("name", "is required")
	}
	if c.Kind != PeerToPeer && c.Kind != Hub {
		fs.Add("kind", "must be peer_to_peer or hub")
	}
	return fs.Err()
}

// IssueTokenA gives a pending connection a fresh token A for the partner to
// register with (credentials → Registration): returned once, stored hashed.
func (c *Connection) IssueTokenA() string {
	t := NewToken()
	hint := Hint(t)
	c.OurTokenHash, c.OurTokenHint, c.OurTokenIsA = HashToken(t), &hint, true
	return t
}

// Endpoint returns the partner's endpoint for a module and role.
func (c Connection) Endpoint(module, role string) (string, bool) {
	for _, e := range c.TheirEndpoints {
		if e.Identifier == module && (role == "" || e.Role == role) {
			return e.URL, true
		}
	}
	return "", false
}

// Registered records a completed handshake: the partner now presents
// ourToken and we present theirToken; token A (if any) stops working.
func (c *Connection) Registered(ourToken, theirToken string, versionsURL, version string, endpoints []Endpoint, roles []CredentialsRole, by string, now time.Time) {
	oh, th := Hint(ourToken), Hint(theirToken)
	c.OurTokenHash, c.OurTokenHint, c.OurTokenIsA, c.PendingTokenHash = HashToken(ourToken), &oh, false, nil
	c.TheirToken, c.TheirTokenHint = &theirToken, &th
	c.TheirVersionsURL, c.Version = &versionsURL, &version
	c.TheirEndpoints, c.TheirRoles = endpoints, roles
	c.Status, c.InitiatedBy, c.LastContactAt, c.StatusMessage = StatusRegistered, by, &now, nil
}

// Unregistered records that the credentials were deleted: neither side's
// token works any more.
func (c *Connection) Unregistered(reason string) {
	c.OurTokenHash, c.OurTokenHint, c.OurTokenIsA, c.PendingTokenHash = nil, nil, false, nil
	c.TheirToken, c.TheirTokenHint = nil, nil
	c.Status, c.StatusMessage = StatusUnregistered, &reason
}

// MarshalEndpoints and MarshalRoles give the stored JSON forms.
func MarshalEndpoints(e []Endpoint) []byte {
	if e == nil {
		e = []Endpoint{}
	}
	b, _ := json.Marshal(e)
	return b
}

// MarshalRoles gives the stored JSON form of credentials roles.
func MarshalRoles(r []CredentialsRole) []byte {
	if r == nil {
		r = []CredentialsRole{}
	}
	b, _ := json.Marshal(r)
	return b
}
