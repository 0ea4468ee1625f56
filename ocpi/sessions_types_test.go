package ocpi

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/fault"
	"github.com/roamnode/roamnode/domain/session"
)

func TestSessionOfficialExamples(t *testing.T) {
	s := decodeExample[Session](t, "session_example_1_simple_start.json")
	require.NoError(t, s.Check())
	require.Equal(t, SessionStatus(session.StatusPending), s.Status)
	require.Equal(t, "123abc", s.CdrToken.UID)
	require.Equal(t, "2.5", s.TotalCost.ExclVAT.String())

	s2 := decodeExample[Session](t, "session_example_2_short_finished.json")
	require.NoError(t, s2.Check())
	require.Len(t, s2.ChargingPeriods, 3)
	require.Equal(t, "0.718", s2.ChargingPeriods[2].Dimensions[0].Volume.String())
	require.Equal(t, "41.12", s2.Kwh.String())

	// The PATCH examples apply to a stored session: total_cost replaced,
	// a charging period appended.
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(examplesDir, name))
		require.NoError(t, err)
		return b
	}
	m, err := MergeSessionPatch(s, read("session_patch_example_total_cost.json"))
	require.NoError(t, err)
	require.Equal(t, "0.6", m.TotalCost.ExclVAT.String())
	require.Equal(t, "0.66", m.TotalCost.InclVAT.String())
	require.Equal(t, "2019-06-23T08:11:00Z", m.LastUpdated.String())
	require.Equal(t, s.CdrToken, m.CdrToken, "fields not in the PATCH are unchanged")

	m2, err := MergeSessionPatch(s2, read("session_patch_example_charging_period.json"))
	require.NoError(t, err)
	require.Len(t, m2.ChargingPeriods, 4, "charging_periods of a PATCH are appended")
	require.Equal(t, "2200", m2.ChargingPeriods[3].Dimensions[0].Volume.String())
	require.Equal(t, s2.ChargingPeriods, m2.ChargingPeriods[:3])
	require.Equal(t, "15", m2.Kwh.String())

	// The same PATCH again adds no period twice.
	m3, err := MergeSessionPatch(m2, read("session_patch_example_charging_period.json"))
	require.NoError(t, err)
	require.True(t, SameSession(m2, m3))
}

func TestSessionDecodeRules(t *testing.T) {
	base := func(mut func(m map[string]any)) []byte {
		b, err := os.ReadFile(filepath.Join(examplesDir, "session_example_2_short_finished.json"))
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		if mut != nil {
			mut(m)
		}
		out, _ := json.Marshal(m)
		return out
	}
	// Timestamps without a zone are UTC; unknown fields are tolerated.
	s, err := DecodeSession(base(func(m map[string]any) {
		m["start_date_time"] = "2015-06-29T22:39:09"
		m["future_field"] = map[string]any{"x": 1}
		m["cdr_token"].(map[string]any)["extra"] = true
	}))
	require.NoError(t, err)
	require.Equal(t, "2015-06-29T22:39:09Z", s.StartDateTime.String())

	for _, tc := range []struct {
		name, path string
		mut        func(m map[string]any)
	}{
		{"kwh as string", "kwh", func(m map[string]any) { m["kwh"] = "41.12" }},
		{"kwh missing", "kwh", func(m map[string]any) { delete(m, "kwh") }},
		{"bad timestamp", "last_updated", func(m map[string]any) { m["last_updated"] = "yesterday" }},
		{"status unknown", "status", func(m map[string]any) { m["status"] = "CHARGING" }},
		{"no token uid", "cdr_token.uid", func(m map[string]any) { delete(m["cdr_token"].(map[string]any), "uid") }},
		{"token type", "cdr_token.type", func(m map[string]any) { m["cdr_token"].(map[string]any)["type"] = "CARD" }},
		{"no token", "cdr_token", func(m map[string]any) { delete(m, "cdr_token") }},
		{"id too long", "id", func(m map[string]any) { m["id"] = strings.Repeat("x", 37) }},
		{"party", "party_id", func(m map[string]any) { m["party_id"] = "B-C" }},
		{"currency", "currency", func(m map[string]any) { m["currency"] = "E1R" }},
		{"negative energy", "kwh", func(m map[string]any) { m["kwh"] = -1 }},
		{"end before start", "end_date_time", func(m map[string]any) { m["end_date_time"] = "2015-06-29T20:00:00Z" }},
		{"period dimension", "charging_periods[1].dimensions[0].type", func(m map[string]any) {
			m["charging_periods"].([]any)[1].(map[string]any)["dimensions"].([]any)[0].(map[string]any)["type"] = "VOLTAGE"
		}},
		{"period volume", "charging_periods[0].dimensions[1].volume", func(m map[string]any) {
			delete(m["charging_periods"].([]any)[0].(map[string]any)["dimensions"].([]any)[1].(map[string]any), "volume")
		}},
		{"period volume type", "charging_periods[0].dimensions[0].volume", func(m map[string]any) {
			m["charging_periods"].([]any)[0].(map[string]any)["dimensions"].([]any)[0].(map[string]any)["volume"] = true
		}},
		{"price", "total_cost.excl_vat", func(m map[string]any) { m["total_cost"] = map[string]any{"incl_vat": 1} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeSession(base(tc.mut))
			require.Error(t, err)
			requireInvalidAt(t, err, tc.path)
		})
	}

	// A PATCH needs last_updated; its values are checked like a PUT's.
	s2, err := DecodeSession(base(nil))
	require.NoError(t, err)
	_, err = MergeSessionPatch(s2, []byte(`{"kwh": 50}`))
	requireInvalidAt(t, err, "last_updated")
	_, err = MergeSessionPatch(s2, []byte(`{"kwh": "x", "last_updated": "2015-06-29T23:59:00Z"}`))
	requireInvalidAt(t, err, "kwh")
	_, err = MergeSessionPatch(s2, []byte(`{"charging_periods": [{"start_date_time": "2015-06-29T23:59:00Z", "dimensions": []}], "last_updated": "2015-06-29T23:59:00Z"}`))
	requireInvalidAt(t, err, "charging_periods[0].dimensions")
	_, err = MergeSessionPatch(s2, []byte(`{"charging_periods": [{"start_date_time": 5}], "last_updated": "2015-06-29T23:59:00Z"}`))
	requireInvalidAt(t, err, "charging_periods[0].start_date_time")
	_, err = MergeSessionPatch(s2, []byte(`[1]`))
	require.Error(t, err)
	// An empty list changes nothing.
	m, err := MergeSessionPatch(s2, []byte(`{"charging_periods": [], "last_updated": "2015-06-29T23:50:17Z"}`))
	require.NoError(t, err)
	require.True(t, SameSession(s2, m))
}

// requireInvalidAt asserts a 2001 (OCPI error or domain invalid) naming path.
func requireInvalidAt(t *testing.T, err error, path string) {
	t.Helper()
	require.Error(t, err)
	var oe *Error
	if errors.As(err, &oe) {
		require.Equal(t, StatusInvalidParams, oe.Code, oe.Message)
		require.Contains(t, oe.Message, path+":", oe.Message)
		return
	}
	f, ok := fault.As(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, fault.KindInvalid, f.Kind)
	var paths []string
	for _, fl := range f.Fields {
		paths = append(paths, fl.Path)
	}
	require.Contains(t, paths, path, "%v", err)
}

// TestSessionMatchesOfficialSchema: the Session type has exactly the
// official properties, marks the official required ones required, limits
// lengths like the official maxLength, and its enums are the official ones.
func TestSessionMatchesOfficialSchema(t *testing.T) {
	s := officialSchema(t, "modules/sessions/schema.yaml", "Session")
	typ := reflect.TypeFor[Session]()
	var props, fields, required []string
	for name := range s.Properties {
		props = append(props, name)
	}
	rules := map[string][]string{}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fields = append(fields, name)
		rules[name] = strings.Split(f.Tag.Get("validate"), ",")
		if slices.Contains(rules[name], "required") {
			required = append(required, name)
		}
	}
	slices.Sort(props)
	slices.Sort(fields)
	slices.Sort(required)
	want := slices.Clone(s.Required)
	slices.Sort(want)
	require.Equal(t, props, fields)
	require.Equal(t, want, required)
	for name, p := range s.Properties {
		if p.Value.MaxLength != nil && p.Value.Type.Is("string") {
			n := strconv.FormatUint(*p.Value.MaxLength, 10)
			ok := slices.Contains(rules[name], "max="+n) || slices.Contains(rules[name], "len="+n) ||
				(n == "2" && slices.Contains(rules[name], TagCountry)) || (n == "3" && slices.Contains(rules[name], TagParty))
			require.True(t, ok, "%s: maxLength %s, rules %v", name, n, rules[name])
		}
	}
	require.Equal(t, enumStrings(officialSchema(t, "modules/sessions/schema.yaml", "SessionStatus")), oneofOf(t, typ, "Status"))
	require.Equal(t, enumStrings(officialSchema(t, "modules/sessions/schema.yaml", "SessionStatus")),
		sortedStrings(session.ProgressStatuses...))
	require.Equal(t, enumStrings(officialSchema(t, "modules/cdrs/schema.yaml", "AuthMethod")), oneofOf(t, typ, "AuthMethod"))
	dims := enumStrings(officialSchema(t, "modules/cdrs/schema.yaml", "CdrDimensionType"))
	for _, d := range dims {
		require.True(t, knownDimension(CdrDimensionType(d)), d)
	}
}
