// Package access holds API accounts and what they may do (003 →
// Implementation guide → Security): each account has a set of administrations
// it may see and a set of permissions, read or write per resource family.
package access

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/domain/fault"
)

// Level is read or write; write implies read.
type Level string

// Permission levels.
const (
	Read  Level = "read"
	Write Level = "write"
)

// Families are the resource families that permissions name. A permission is
// "<family>:read", "<family>:write", or "*" for everything (including
// families added in later versions).
var Families = []string{
	"seller", "administration", "customer", "api-account", "roaming",
	"token",   // MSP tokens, subscription plans, subscriptions and token links
	"webhook", // webhook subscriptions and their delivery log
	"cpo",
	// charge sessions, drop-out cases, invalid sessions, validity thresholds
	"charge-session",
}

// All is the permission that grants every family at write level.
const All = "*"

// Account is an API account.
type Account struct {
	ID                 uuid.UUID
	ExternalReference  *string
	PublicID           string // the HTTP Basic user name
	Name               string
	SecretHash         []byte
	Permissions        []string
	AllAdministrations bool
	AdministrationIDs  []uuid.UUID
	RateLimitRPS       *int
	RateLimitBurst     *int
	Disabled           bool
	ExternalUpdatedAt  *time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// NewSecret returns a secret with 256 bits of entropy, URL-safe base64.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NewPublicID returns a random account id ("rn_" + 20 hex digits).
func NewPublicID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "rn_" + hex.EncodeToString(b[:])
}

// HashSecret returns the stored form of a secret. A single SHA-256 suffices
// because generated secrets carry 256 bits of entropy (no dictionary to
// attack), and it keeps authentication cheap under the rate limits.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CheckSecret compares a presented secret with the stored hash in constant time.
func (a Account) CheckSecret(secret string) bool {
	h := HashSecret(secret)
	return len(a.SecretHash) == len(h) && subtle.ConstantTimeCompare(a.SecretHash, h) == 1
}

// Can reports whether the account holds family at level (write implies read).
func (a Account) Can(family string, level Level) bool {
	for _, p := range a.Permissions {
		if p == All || p == family+":write" || (level == Read && p == family+":read") {
			return true
		}
	}
	return false
}

// Sees reports whether the account may see data of the administration.
func (a Account) Sees(admin uuid.UUID) bool {
	return a.AllAdministrations || slices.Contains(a.AdministrationIDs, admin)
}

// Covers reports whether a holds every permission and administration of b,
// which an account needs to create or change account b: nobody can grant
// more than they have.
func (a Account) Covers(b Account) bool {
	for _, p := range b.Permissions {
		fam, lvl, _ := strings.Cut(p, ":")
		if p == All {
			if !slices.Contains(a.Permissions, All) {
				return false
			}
			continue
		}
		if !a.Can(fam, Level(lvl)) {
			return false
		}
	}
	if b.AllAdministrations && !a.AllAdministrations {
		return false
	}
	for _, id := range b.AdministrationIDs {
		if !a.Sees(id) {
			return false
		}
	}
	return true
}

// Validate checks an account's fields.
func (a Account) Validate() error {
	var fs fault.Fields
	if a.Name == "" {
		fs.Add("name", "is required")
	}
	if !validPublicID(a.PublicID) {
		fs.Add("public_id", "must be 3 to 64 characters of letters, digits, '-', '_' or '.'")
	}
	for i, p := range a.Permissions {
		if !validPermission(p) {
			fs.Add("permissions["+strconv.Itoa(i)+"]", "must be \"*\" or <family>:read|write with family one of %s", strings.Join(Families, ", "))
		}
	}
	if (a.RateLimitRPS == nil) != (a.RateLimitBurst == nil) {
		fs.Add("rate_limit_burst", "rate_limit_rps and rate_limit_burst are set together")
	} else if a.RateLimitRPS != nil && (*a.RateLimitRPS < 1 || *a.RateLimitBurst < *a.RateLimitRPS) {
		fs.Add("rate_limit_burst", "needs rate_limit_rps ≥ 1 and rate_limit_burst ≥ rate_limit_rps")
	}
	return fs.Err()
}

func validPermission(p string) bool {
	if p == All {
		return true
	}
	fam, lvl, ok := strings.Cut(p, ":")
	return ok && slices.Contains(Families, fam) && (lvl == string(Read) || lvl == string(Write))
}

func validPublicID(s string) bool {
	if len(s) < 3 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}
