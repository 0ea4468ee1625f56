package module_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/ocpi/module"
	"github.com/roamnode/roamnode/roaming"
)

// tariffIDsOf returns the ids of a tariffs list answer, in order.
func tariffIDsOf(t *testing.T, env map[string]any) []string {
	t.Helper()
	require.Equal(t, float64(1000), env["status_code"], "%v", env)
	data, ok := env["data"].([]any)
	require.True(t, ok, "data is an array: %v", env)
	ids := make([]string, len(data))
	for i, d := range data {
		ids[i] = d.(map[string]any)["id"].(string)
	}
	return ids
}

// TestCPOTariffsSenderDateFiltersAndPagination creates tariffs through the
// Admin API, gives them distinct last_updated (SQL: the Admin API sets it
// from its own clock) in an order unlike their creation order, and reads
// them through our Tariffs sender (mod_tariffs, Sender Interface GET
// list; transport_and_format → "Paginated Request/Response"): date_from
// is inclusive and date_to exclusive on last_updated, the oldest come
// first, X-Total-Count counts the window, X-Limit is the page size, and
// following the Link headers with limit=2 yields every tariff exactly
// once, filters kept. Another party's tariff is never listed. Every answer
// is validated against the official OpenAPI files.
func TestCPOTariffsSenderDateFiltersAndPagination(t *testing.T) {
	a := start(t, "NL", "TFP", "CPO")
	a.admin(201, "POST", "/main/v1/own-party", map[string]any{"country_code": "NL", "party_id": "OTH", "role": "CPO", "name": "Other"})
	f := newFakeEMSP(t)
	token := partner.NewToken()
	a.emspReceiver(token, f)

	tariff := func(cc, pid string, price float64) map[string]any {
		return map[string]any{"country_code": cc, "party_id": pid, "currency": "EUR",
			"elements": []any{map[string]any{"price_components": []any{map[string]any{"type": "ENERGY", "price": price, "step_size": 1}}}}}
	}
	// Created in this order; their last_updated order is byAge below.
	created := []string{"T-A", "T-B", "T-C", "T-D", "T-E", "T-F", "T-G"}
	for i, id := range created {
		a.admin(201, "POST", "/main/v1/cpo-tariff/"+id, tariff("NL", "TFP", 0.2+float64(i)/100))
	}
	a.admin(201, "POST", "/main/v1/cpo-tariff/T-OTHER", tariff("NL", "OTH", 0.3))

	// byAge[i] gets last_updated base+i seconds.
	byAge := []string{"T-D", "T-A", "T-G", "T-B", "T-F", "T-C", "T-E"}
	base := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	for i, id := range byAge {
		tag, err := a.db.Pool.Exec(context.Background(), "UPDATE cpo_tariff SET last_updated = $1 WHERE tariff_id = $2", at(i), id)
		require.NoError(t, err)
		require.Equal(t, int64(1), tag.RowsAffected(), id)
	}
	// The other party's tariff sits in the middle of every window.
	_, err := a.db.Pool.Exec(context.Background(), "UPDATE cpo_tariff SET last_updated = $1 WHERE tariff_id = 'T-OTHER'", at(3))
	require.NoError(t, err)

	list := func(query string) ([]string, map[string]any, map[string][]string) {
		t.Helper()
		st, env, h := a.ocpiAs(token, "NL", "TFP", "/ocpi/2.2.1/cpo/tariffs"+query)
		require.Equal(t, 200, st)
		return tariffIDsOf(t, env), env, h
	}
	ts := func(tm time.Time) string { return tm.Format(time.RFC3339Nano) }

	// Windows: ids in last_updated order, and X-Total-Count the window size.
	for _, w := range []struct {
		query string
		want  []string
	}{
		{"", byAge},
		{"?date_from=" + ts(at(2)), byAge[2:]},
		{"?date_to=" + ts(at(2)), byAge[:2]},
		{"?date_from=" + ts(at(2)) + "&date_to=" + ts(at(5)), byAge[2:5]},
		{"?date_from=" + ts(at(3)) + "&date_to=" + ts(at(4)), byAge[3:4]},
		{"?date_from=" + ts(at(3)) + "&date_to=" + ts(at(3)), nil},
		{"?date_from=" + ts(at(2).Add(500*time.Millisecond)), byAge[3:]},
		{"?date_to=" + ts(at(2).Add(500*time.Millisecond)), byAge[:3]},
		{"?date_from=" + ts(at(0)), byAge},
		{"?date_to=" + ts(at(6)), byAge[:6]},
		{"?date_to=" + ts(at(6).Add(time.Microsecond)), byAge},
		// A zone offset ("+" percent-encoded): 11:00:03+01:00 is at(3).
		{"?date_to=2024-03-01T11:00:03%2B01:00", byAge[:3]},
		{"?date_from=2024-03-01T11:00:03%2B01:00", byAge[3:]},
		{"?date_from=2999-01-01T00:00:00Z", nil},
		{"?date_to=" + ts(at(0)), nil},
	} {
		ids, _, h := list(w.query)
		want := w.want
		if want == nil {
			want = []string{}
		}
		require.Equal(t, want, ids, "window %q", w.query)
		require.Equal(t, strconv.Itoa(len(want)), h["X-Total-Count"][0], "window %q", w.query)
		require.Equal(t, "100", h["X-Limit"][0], "window %q", w.query)
		require.Empty(t, h["Link"], "window %q: everything fits one page", w.query)
	}
	// The other party sees only its own tariff, in the same window.
	st, env, h := a.ocpiAs(token, "NL", "OTH", "/ocpi/2.2.1/cpo/tariffs?date_from="+ts(at(3))+"&date_to="+ts(at(4)))
	require.Equal(t, 200, st)
	require.Equal(t, []string{"T-OTHER"}, tariffIDsOf(t, env))
	require.Equal(t, "1", h.Get("X-Total-Count"))

	// A limit beyond the maximum is clamped (X-Limit says so); limit=0
	// returns no objects but the count.
	_, _, h = list("?limit=1000")
	require.Equal(t, "100", h.Get("X-Limit"))
	ids, _, h := list("?limit=0")
	require.Empty(t, ids)
	require.Equal(t, "7", h.Get("X-Total-Count"))

	// Paging with limit=2, following Link until there is none: every
	// tariff exactly once, in order; the filters travel in the Link.
	follow := func(first string, total int) []string {
		t.Helper()
		var seen []string
		next := "/ocpi/2.2.1/cpo/tariffs" + first
		for pages := 0; next != ""; pages++ {
			require.Less(t, pages, total+2, "the Link chain must end")
			ids, _, h := list(strings.TrimPrefix(next, "/ocpi/2.2.1/cpo/tariffs"))
			require.Equal(t, strconv.Itoa(total), h["X-Total-Count"][0], next)
			require.Equal(t, "2", h["X-Limit"][0], next)
			require.LessOrEqual(t, len(ids), 2, next)
			seen = append(seen, ids...)
			next = ""
			if l := h["Link"]; len(l) > 0 {
				require.Len(t, l, 1)
				target, ok := strings.CutPrefix(l[0], "<")
				require.True(t, ok, l[0])
				target, ok = strings.CutSuffix(target, `>; rel="next"`)
				require.True(t, ok, l[0])
				require.True(t, strings.HasPrefix(target, a.base+"/ocpi/2.2.1/cpo/tariffs?"), target)
				next = strings.TrimPrefix(target, a.base)
				require.Less(t, len(seen), total, "a Link only while objects remain: %s", target)
			} else {
				require.Equal(t, total, len(seen), "no Link before the end (%s)", next)
			}
		}
		return seen
	}
	require.Equal(t, byAge, follow("?limit=2", 7))
	require.Equal(t, byAge[1:], follow("?limit=2&date_from="+ts(at(1)), 6))
	require.Equal(t, byAge[1:5], follow("?date_to="+ts(at(5))+"&limit=2&date_from="+ts(at(1)), 4))
	// A page in the middle by offset.
	ids, _, h = list("?offset=3&limit=2")
	require.Equal(t, byAge[3:5], ids)
	require.Contains(t, h.Get("Link"), "offset=5")
	ids, _, h = list("?offset=6&limit=2")
	require.Equal(t, byAge[6:], ids)
	require.Empty(t, h.Get("Link"))
	ids, _, h = list("?offset=50&limit=2")
	require.Empty(t, ids)
	require.Equal(t, "7", h.Get("X-Total-Count"))

	// An Admin API change moves last_updated to now: an incremental pull
	// from just before it returns exactly that tariff; an update that does
	// not change the OCPI object does not move it.
	before := time.Now().UTC().Truncate(time.Second)
	a.admin(200, "POST", "/main/v1/cpo-tariff/T-B", tariff("NL", "TFP", 0.99))
	a.admin(200, "POST", "/main/v1/cpo-tariff/T-C", tariff("NL", "TFP", 0.2+float64(2)/100))
	ids, env, _ = list("?date_from=" + ts(before))
	require.Equal(t, []string{"T-B"}, ids)
	lu, err := time.Parse(time.RFC3339, env["data"].([]any)[0].(map[string]any)["last_updated"].(string))
	require.NoError(t, err)
	require.False(t, lu.Before(before), "%v before %v", lu, before)
	ids, _, _ = list("?date_to=" + ts(before))
	require.Equal(t, []string{"T-D", "T-A", "T-G", "T-F", "T-C", "T-E"}, ids)
}

// TestCPOTariffRestrictionOfficialExamples pushes the official
// tariffrestriction_example_*.json (whole Tariff objects whose elements
// carry max_duration / max_power restrictions) through the Admin API and
// reads each back through our Tariffs sender identical in meaning
// (last_updated aside: it is our clock), answers validated against the
// official OpenAPI files; the PUT pushed to a partner's Tariffs receiver
// carries the same object.
func TestCPOTariffRestrictionOfficialExamples(t *testing.T) {
	a := start(t, "DE", "ALL", "CPO")
	f := newFakeEMSP(t)
	token := partner.NewToken()
	a.emspReceiver(token, f)

	files, err := filepath.Glob(filepath.Join(cpoExamplesDir, "tariffrestriction_example_*.json"))
	require.NoError(t, err)
	require.Len(t, files, 2)
	examples := map[string]map[string]any{}
	for _, file := range files {
		ex := readCPOExample(t, filepath.Base(file))
		// They are whole Tariff objects, not TariffRestrictions fragments.
		for _, k := range []string{"country_code", "party_id", "id", "currency", "elements", "last_updated"} {
			require.Contains(t, ex, k, file)
		}
		id := ex["id"].(string)
		examples[id] = ex
		r := a.admin(201, "POST", "/main/v1/cpo-tariff/"+id, adminBody(ex, tariffFields, "id"))
		require.Equal(t, id, r["tariff_id"])
		// A merge of the same object changes nothing.
		a.admin(200, "POST", "/main/v1/cpo-tariff/"+id, adminBody(ex, tariffFields, "id"))
	}
	st, env, h := a.ocpiAs(token, "DE", "ALL", "/ocpi/2.2.1/cpo/tariffs")
	require.Equal(t, 200, st)
	require.Equal(t, float64(1000), env["status_code"], "%v", env)
	require.Equal(t, "2", h.Get("X-Total-Count"))
	data := env["data"].([]any)
	require.Len(t, data, 2)
	for _, d := range data {
		got := d.(map[string]any)
		ex, ok := examples[got["id"].(string)]
		require.True(t, ok, "%v", got)
		sameJSON(t, withoutLastUpdated(ex), withoutLastUpdated(got), got["id"])
		require.NotEqual(t, ex["last_updated"], got["last_updated"], "last_updated is our clock")
	}
	// Restrictions survive in their own right (not only as a whole).
	byID := map[string]map[string]any{}
	for _, d := range data {
		byID[d.(map[string]any)["id"].(string)] = d.(map[string]any)
	}
	restriction := func(id string, el int) any {
		e := byID[id]["elements"].([]any)[el].(map[string]any)
		return e["restrictions"]
	}
	sameJSON(t, map[string]any{"max_power": 16}, restriction("1", 0))
	sameJSON(t, map[string]any{"max_power": 32}, restriction("1", 1))
	require.Nil(t, restriction("1", 2))
	sameJSON(t, map[string]any{"max_duration": 1800}, restriction("2", 0))
	sameJSON(t, map[string]any{"max_duration": 3600}, restriction("2", 1))
	require.Nil(t, restriction("2", 2))

	// Pushed to the partner's Tariffs receiver as the same objects.
	pusher := roaming.NewPusher(db.PushStore{Pool: a.db.Pool}, roaming.NewClient(roaming.Options{Timeout: 2 * time.Second, MaxRetries: -1}, a.log),
		module.PushRenderers(a.db.Pool), roaming.PushOptions{BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	waitFor(t, func() bool {
		ctx := context.Background()
		refs, err := db.DuePushGroups(ctx, a.db.Pool, 1000)
		require.NoError(t, err)
		for _, r := range refs {
			_, err := pusher.Run(ctx, r)
			require.NoError(t, err)
		}
		gs, err := db.PendingPushes(ctx, a.db.Pool, 1000)
		require.NoError(t, err)
		return len(gs) == 0
	})
	for id, ex := range examples {
		p := pushedPath(f.requests(), "PUT", fmt.Sprintf("/ocpi/emsp/2.2.1/tariffs/DE/ALL/%s", id))
		require.Equal(t, "PUT", p.Method, id)
		sameJSON(t, withoutLastUpdated(ex), withoutLastUpdated(p.Body), id)
	}
}
