package adminapi_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// events counts outbox events of kind about record id.
func events(t *testing.T, kind, id string) []string {
	t.Helper()
	rows, err := testDB.Pool.Query(context.Background(),
		"SELECT modification_kind FROM outbox_event WHERE kind = $1 AND data->>'id' = $2 ORDER BY seq", kind, id)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var m string
		require.NoError(t, rows.Scan(&m))
		out = append(out, m)
	}
	return out
}

func TestMergeUpdate(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	c := h.customer(adm, map[string]any{"billing_email": "a@example.com", "locale_id": "nl-NL", "withhold_billing": true})
	id := c.str("id")

	// Omitted fields stay; given ones change; null resets an optional field.
	r := h.must(200, h.do("POST", "/main/v1/customer/"+id, map[string]any{"name": "Jane Doe", "locale_id": nil}))
	require.Equal(t, false, r.JSON["stale_update"])
	require.Equal(t, "Jane Doe", r.str("name"))
	require.Equal(t, "a@example.com", r.str("billing_email"))
	require.Nil(t, r.JSON["locale_id"])
	require.Equal(t, true, r.JSON["withhold_billing"])
	require.Equal(t, c.str("created_at"), r.str("created_at"))

	// Immutable fields are ignored (the administration cannot move).
	_, other := h.tenant()
	r = h.must(200, h.do("POST", "/main/v1/customer/"+id, map[string]any{"administration_id": other, "name": "Jane D."}))
	require.Equal(t, adm, r.str("administration_id"))
	require.Equal(t, "Jane D.", r.str("name"))

	// Required fields cannot be reset.
	bad := h.must(400, h.do("POST", "/main/v1/customer/"+id, map[string]any{"name": nil}))
	require.Equal(t, []string{"name"}, bad.fields())

	// A no-op merge writes nothing and emits no event.
	before := events(t, "customer", id)
	h.must(200, h.do("POST", "/main/v1/customer/"+id, map[string]any{"name": "Jane D."}))
	require.Equal(t, before, events(t, "customer", id))
	require.Equal(t, []string{"create", "update", "update"}, before)

	// Unknown id (not ext_ref) does not create: 400, not 404.
	miss := h.must(400, h.do("POST", "/main/v1/customer/"+uuid.NewString(), map[string]any{"name": "x"}))
	require.Equal(t, "not_found", miss.code())
	require.Equal(t, 400, h.do("GET", "/main/v1/customer/"+uuid.NewString(), nil).Status)
	require.Equal(t, 400, h.do("GET", "/main/v1/customer/not-a-uuid", nil).Status)
}

func TestExtRefCreateOrUpdate(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	ref := "R-" + uuid.NewString()
	body := map[string]any{"administration_id": adm, "name": "Grain", "country": "NL", "entity_type": "person", "external_reference": "ignored"}
	r := h.must(201, h.do("POST", "/main/v1/customer/ext_ref."+ref, body))
	require.Equal(t, ref, r.str("external_reference"), "the path's reference wins over the body's")
	id := r.str("id")
	r = h.must(200, h.do("POST", "/main/v1/customer/ext_ref."+ref, map[string]any{"name": "Mr. Grain"}))
	require.Equal(t, id, r.str("id"))
	require.Equal(t, "Mr. Grain", r.str("name"))
	require.Equal(t, "NL", r.str("country"))
	g := h.must(200, h.do("GET", "/main/v1/customer/ext_ref."+ref, nil))
	require.Equal(t, id, g.str("id"))
	// External references are case-sensitive.
	require.Equal(t, 400, h.do("GET", "/main/v1/customer/ext_ref."+strings.ToLower(ref), nil).Status)
	// References with URL-escaped characters.
	h.must(201, h.do("POST", "/main/v1/customer/ext_ref.A%2FB%20"+ref[:8], body))
	require.Equal(t, "A/B "+ref[:8], h.must(200, h.do("GET", "/main/v1/customer/ext_ref.A%2FB%20"+ref[:8], nil)).str("external_reference"))
	// With an id path, the external reference can be changed; uniqueness is enforced.
	other := h.customer(adm, map[string]any{"external_reference": "taken-" + ref}).str("id")
	dup := h.must(400, h.do("POST", "/main/v1/customer/"+other, map[string]any{"external_reference": ref}))
	require.Equal(t, []string{"external_reference"}, dup.fields())
	require.Equal(t, "duplicate", dup.code())
	h.must(200, h.do("POST", "/main/v1/customer/"+other, map[string]any{"external_reference": "new-" + ref}))
	require.Equal(t, []string{"create", "update"}, events(t, "customer", other))
}

func TestStaleUpdatePrevention(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	c := h.customer(adm, map[string]any{"external_updated_at": t0.Format(time.RFC3339)})
	id := c.str("id")
	require.Equal(t, t0.Format(time.RFC3339), c.str("external_updated_at"))

	// Older than stored: 204, nothing changed, no event.
	r := h.do("POST", "/main/v1/customer/"+id, map[string]any{"name": "old", "external_updated_at": t0.Add(-time.Minute).Format(time.RFC3339)})
	require.Equal(t, 204, r.Status)
	require.Empty(t, r.Raw)
	require.Equal(t, "Jane", h.must(200, h.do("GET", "/main/v1/customer/"+id, nil)).str("name"))
	require.Equal(t, []string{"create"}, events(t, "customer", id))

	// Equal is processed (a >= b).
	r = h.must(200, h.do("POST", "/main/v1/customer/"+id, map[string]any{"name": "same", "external_updated_at": t0.Format(time.RFC3339)}))
	require.Equal(t, "same", r.str("name"))
	// Newer is processed and stored.
	t1 := t0.Add(time.Minute)
	r = h.must(200, h.do("POST", "/main/v1/customer/"+id, map[string]any{"name": "new", "external_updated_at": t1.Format(time.RFC3339)}))
	require.Equal(t, t1.Format(time.RFC3339), r.str("external_updated_at"))
	// Without external_updated_at the update applies and keeps the stored value.
	r = h.must(200, h.do("POST", "/main/v1/customer/"+id, map[string]any{"name": "plain"}))
	require.Equal(t, t1.Format(time.RFC3339), r.str("external_updated_at"))

	// In the future: 400, on create and on update.
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	bad := h.must(400, h.do("POST", "/main/v1/customer/"+id, map[string]any{"name": "x", "external_updated_at": future}))
	require.Equal(t, []string{"external_updated_at"}, bad.fields())
	h.must(400, h.do("POST", "/main/v1/customer", map[string]any{"administration_id": adm, "name": "x", "country": "NL", "entity_type": "person", "external_updated_at": future}))
	require.Equal(t, "plain", h.must(200, h.do("GET", "/main/v1/customer/"+id, nil)).str("name"))
}

func TestUnknownAndImplicitFields(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	r := h.must(201, h.do("POST", "/main/v1/customer", map[string]any{"administration_id": adm, "name": "x", "country": "NL", "entity_type": "person", "valid_fro": "2024-01-01T00:00:00Z", "nmae": "y"}))
	require.Equal(t, "nmae,valid_fro", r.Header.Get("X-RN-Unknown-Fields"))
	require.Equal(t, "external_reference,reimbursement_vat", r.Header.Get("X-RN-Implicit-Fields"))
	require.Equal(t, "unknown", r.str("reimbursement_vat"))
	r = h.must(201, h.do("POST", "/main/v1/customer", map[string]any{"administration_id": adm, "name": "x", "country": "NL", "entity_type": "person", "external_reference": "imp-" + uuid.NewString(), "reimbursement_vat": "exempt"}))
	require.Empty(t, r.Header.Get("X-RN-Unknown-Fields"))
	require.Empty(t, r.Header.Get("X-RN-Implicit-Fields"))
	// Read-only fields of the representation are not "unknown" (a client may echo a GET back).
	r = h.must(200, h.do("POST", "/main/v1/customer/"+r.str("id"), map[string]any{"id": r.str("id"), "created_at": r.str("created_at"), "name": "z"}))
	require.Empty(t, r.Header.Get("X-RN-Unknown-Fields"))
}

func TestReferencesInBody(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	admRef := "adm-" + uuid.NewString()
	h.must(200, h.do("POST", "/main/v1/administration/"+adm, map[string]any{"external_reference": admRef}))
	// By external reference instead of id.
	c := h.must(201, h.do("POST", "/main/v1/customer", map[string]any{"administration_external_reference": admRef, "name": "x", "country": "NL", "entity_type": "person"}))
	require.Equal(t, adm, c.str("administration_id"))
	// Both: 400 naming the field.
	both := h.must(400, h.do("POST", "/main/v1/customer", map[string]any{"administration_id": adm, "administration_external_reference": admRef, "name": "x", "country": "NL", "entity_type": "person"}))
	require.Equal(t, []string{"administration_id"}, both.fields())
	// Neither.
	none := h.must(400, h.do("POST", "/main/v1/customer", map[string]any{"name": "x", "country": "NL", "entity_type": "person"}))
	require.Equal(t, []string{"administration_id"}, none.fields())
	// A reference to a missing record is a 400 on that field.
	miss := h.must(400, h.do("POST", "/main/v1/customer", map[string]any{"administration_external_reference": "nope-" + admRef, "name": "x", "country": "NL", "entity_type": "person"}))
	require.Equal(t, []string{"administration_external_reference"}, miss.fields())
	require.Equal(t, "reference_not_found", miss.code())
	// Billing addresses refer to a party the same way.
	b := h.must(201, h.do("POST", "/main/v1/billing-address", map[string]any{"party_id": c.str("id"), "addressee": "x", "country": "NL"}))
	require.Equal(t, c.str("id"), b.str("party_id"))
	both = h.must(400, h.do("POST", "/main/v1/billing-address", map[string]any{"party_id": c.str("id"), "party_external_reference": "x", "addressee": "x", "country": "NL"}))
	require.Equal(t, []string{"party_id"}, both.fields())
}

func TestMalformedInput(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	for _, raw := range []string{``, `{`, `[1,2]`, `"x"`, `{"name": "x"} {"name": "y"}`, `null`} {
		r := h.must(400, h.do("POST", "/main/v1/customer", raw))
		require.Equal(t, "malformed_json", r.code(), "body %q", raw)
	}
	// Wrong types: every field is reported at once, with its path.
	r := h.must(400, h.do("POST", "/main/v1/customer", map[string]any{"administration_id": 12, "name": true, "country": "NL", "entity_type": "person", "withhold_billing": "yes"}))
	require.Equal(t, []string{"administration_id", "name", "withhold_billing"}, r.fields())
	// Validation problems name their fields.
	r = h.must(400, h.do("POST", "/main/v1/customer", map[string]any{"administration_id": adm, "name": "x", "country": "Netherlands", "entity_type": "robot", "billing_email": "not-an-email", "billing_phone": "0612", "locale_id": "dutch!", "reimbursement_vat": "maybe"}))
	require.ElementsMatch(t, []string{"country", "entity_type", "billing_email", "billing_phone", "locale_id", "reimbursement_vat"}, r.fields())
	// Timestamps must be RFC 3339.
	r = h.must(400, h.do("POST", "/main/v1/customer", map[string]any{"administration_id": adm, "name": "x", "country": "NL", "entity_type": "person", "external_updated_at": "yesterday"}))
	require.Equal(t, []string{"external_updated_at"}, r.fields())
}

func TestStrings(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	r := h.customer(adm, map[string]any{"name": "  Padded Name \t", "vat_number": "   "})
	require.Equal(t, "Padded Name", r.str("name"), "trimmed")
	require.Nil(t, r.JSON["vat_number"], "blank optional string becomes null")
	for _, s := range []string{"bell\a", "nul\x00x", "esc\x1b[31m", "line\nbreak", "del\x7f"} {
		bad := h.must(400, h.do("POST", "/main/v1/customer", map[string]any{"administration_id": adm, "name": s, "country": "NL", "entity_type": "person"}))
		require.Equal(t, []string{"name"}, bad.fields(), "%q", s)
	}
	// A NUL in a filter is the client's mistake, not a server error.
	require.Equal(t, 400, h.do("GET", "/main/v1/customer?country=N%00L", nil).Status)
	bad := h.must(400, h.do("POST", "/main/v1/api-account", map[string]any{"name": "x", "permissions": []string{"customer:read", "\x01"}}))
	require.Contains(t, bad.fields(), "permissions[1]")
}

func TestDecimals(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	set := func(v any) resp {
		return h.do("POST", "/main/v1/administration/"+adm, map[string]any{"min_invoice_amount": v})
	}
	require.Equal(t, "12.5", h.must(200, set("12.50")).str("min_invoice_amount"))
	// Rounded to 12 fractional digits.
	require.Equal(t, "0.123456789012", h.must(200, set("0.1234567890123456")).str("min_invoice_amount"))
	require.Equal(t, "10000000000000000", h.must(200, set("10000000000000000")).str("min_invoice_amount"))
	for _, v := range []any{
		12.5,                             // a JSON number, not a string
		"1,5",                            // comma separator
		"1e3",                            // exponent
		"10000000000000000.000000000001", // above 10^16
		"12345678901234567890.123456789", // more than 28 digits
		"abc",
		"-10000000000000001",
	} {
		r := set(v)
		require.Equal(t, 400, r.Status, "%v: %s", v, r.Raw)
		require.Equal(t, []string{"min_invoice_amount"}, r.fields(), "%v", v)
	}
	require.Equal(t, 400, set("-1").Status, "domain rule: not negative")
	require.Nil(t, h.must(200, set(nil)).JSON["min_invoice_amount"])
}

func TestValidityPeriods(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	c := h.customer(adm, nil).str("id")
	// Truncated to whole minutes, rendered in UTC.
	r := h.must(201, h.do("POST", "/main/v1/billing-address", map[string]any{"party_id": c, "addressee": "A", "country": "NL",
		"valid_from": "2023-11-01T23:45:59.912343+01:00", "valid_until": "2024-01-01T00:00:00Z"}))
	require.Equal(t, "2023-11-01T22:45:00Z", r.str("valid_from"))
	first := r.str("id")
	// Hand-over: the next address starts where the first ends.
	h.must(201, h.do("POST", "/main/v1/billing-address", map[string]any{"party_id": c, "addressee": "B", "country": "NL", "valid_from": "2024-01-01T00:00:00Z"}))
	// Overlap is refused by the database, with a clear 400.
	ov := h.must(400, h.do("POST", "/main/v1/billing-address", map[string]any{"party_id": c, "addressee": "C", "country": "NL", "valid_from": "2023-12-31T00:00:00Z", "valid_until": "2024-01-02T00:00:00Z"}))
	require.Equal(t, "overlapping_validity", ov.code())
	// Empty or reversed periods are refused (same minute after truncation).
	bad := h.must(400, h.do("POST", "/main/v1/billing-address/"+first, map[string]any{"valid_until": "2023-11-01T22:45:30Z"}))
	require.Equal(t, []string{"valid_until"}, bad.fields())
	// valid_at filter: half-open.
	l := h.must(200, h.do("GET", "/main/v1/billing-address?party_id="+c+"&valid_at=2024-01-01T00:00:00Z", nil))
	require.Len(t, l.items(), 1)
	require.Equal(t, "B", l.items()[0]["addressee"])
	l = h.must(200, h.do("GET", "/main/v1/billing-address?party_id="+c+"&valid_at=2023-12-31T23:59:00Z", nil))
	require.Equal(t, "A", l.items()[0]["addressee"])
}

func TestOutboxInSameTransaction(t *testing.T) {
	t.Parallel()
	h := setup(t)
	s, adm := h.tenant()
	require.Equal(t, []string{"create"}, events(t, "seller", s))
	require.Equal(t, []string{"create"}, events(t, "administration", adm))
	c := h.customer(adm, nil).str("id")
	h.must(200, h.do("POST", "/main/v1/customer/"+c, map[string]any{"name": "changed"}))
	require.Equal(t, []string{"create", "update"}, events(t, "customer", c))
	// A failed write leaves neither record nor event behind.
	var before int
	require.NoError(t, testDB.Pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox_event").Scan(&before))
	h.must(400, h.do("POST", "/main/v1/billing-address", map[string]any{"party_id": c, "addressee": "x", "country": "XX"}))
	// The event carries the API representation.
	var data map[string]any
	require.NoError(t, testDB.Pool.QueryRow(context.Background(),
		"SELECT data FROM outbox_event WHERE kind = 'customer' AND data->>'id' = $1 ORDER BY seq DESC LIMIT 1", c).Scan(&data))
	require.Equal(t, "changed", data["name"])
	require.Equal(t, adm, data["administration_id"])
}

// Clients racing to create-or-update the same new external reference all
// succeed: one creates, the others update.
func TestConcurrentExtRefUpsert(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, adm := h.tenant()
	for round := 0; round < 5; round++ {
		ref := "race-" + uuid.NewString()
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		for i := range statuses {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				statuses[i] = h.do("POST", "/main/v1/customer/ext_ref."+ref, map[string]any{"administration_id": adm,
					"name": "n" + strconv.Itoa(i), "country": "NL", "entity_type": "person"}).Status
			}(i)
		}
		wg.Wait()
		created := 0
		for _, st := range statuses {
			require.Contains(t, []int{200, 201}, st, "%v", statuses)
			if st == 201 {
				created++
			}
		}
		require.Equal(t, 1, created, "exactly one creates: %v", statuses)
	}
}
