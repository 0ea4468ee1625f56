package session

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/fault"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func good() ChargeSession {
	return ChargeSession{
		Side: MSP, CountryCode: "BE", PartyID: "BEC", CdrID: "12345",
		Start: now.Add(-3 * time.Hour), End: now.Add(-time.Hour),
		Token:       Token{CountryCode: "NL", PartyID: "RNE", UID: "012345678", Type: "RFID", ContractID: "NL-RNE-C12345678-X"},
		Location:    Place{LocationID: "LOC1", EvseUID: "3256", EvseID: "BE*BEC*E041503001", ConnectorID: "1"},
		Currency:    "EUR",
		TotalEnergy: decimal.RequireFromString("15.342"), TotalTime: decimal.RequireFromString("2"),
		State: Received,
	}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestBasic(t *testing.T) {
	require.Empty(t, Basic(good()))
	s := good()
	s.CdrID, s.Token.UID, s.Location.EvseUID, s.Currency = "", " ", "", ""
	s.End = time.Time{}
	s.TotalEnergy = dec("-1")
	s.Credit = true
	fields := map[string]bool{}
	for _, p := range Basic(s) {
		fields[p.Field] = true
	}
	require.Equal(t, map[string]bool{"id": true, "cdr_token.uid": true, "cdr_location.evse_uid": true, "currency": true,
		"end_date_time": true, "total_energy": true, "credit_reference_id": true}, fields)
}

func TestValidateEachCheck(t *testing.T) {
	th := DefaultThresholds
	known := Facts{TokenKnown: true}
	require.Empty(t, Validate(good(), th, known, now))

	cases := map[Check]func(*ChargeSession){
		CheckStartBeforeEnd: func(s *ChargeSession) { s.Start = s.End },
		CheckEndNotInFuture: func(s *ChargeSession) { s.End = now.Add(10 * time.Minute) },
		CheckNotTooOld:      func(s *ChargeSession) { s.Start, s.End = now.Add(-200*24*time.Hour), now.Add(-181*24*time.Hour) },
		CheckCurrencyKnown:  func(s *ChargeSession) { s.Currency = "EUX" },
		// 2 h at the 400 kW default × 1.10 allows 880 kWh.
		CheckEnergyPlausible: func(s *ChargeSession) { s.TotalEnergy = dec("880.001") },
	}
	for check, spoil := range cases {
		s := good()
		spoil(&s)
		fs := Validate(s, th, known, now)
		require.Len(t, fs, 1, check)
		require.Equal(t, check, fs[0].Check)
		require.NotEmpty(t, fs[0].Reason)
		s.Bypass = []Check{check}
		require.Empty(t, Validate(s, th, known, now), "bypassing %s skips it", check)
	}
	// Boundaries: exactly at the tolerance is accepted.
	s := good()
	s.End, s.TotalEnergy = now.Add(5*time.Minute), dec("0")
	require.Empty(t, Validate(s, th, known, now))
	s = good()
	s.TotalEnergy = dec("880")
	require.Empty(t, Validate(s, th, known, now))

	// Token: MSP side only.
	fs := Validate(good(), th, Facts{}, now)
	require.Len(t, fs, 1)
	require.Equal(t, CheckTokenKnown, fs[0].Check)
	cpo := good()
	cpo.Side = CPO
	require.Empty(t, Validate(cpo, th, Facts{}, now))
}

func TestEnergyUsesConnectorPower(t *testing.T) {
	s := good() // 2 h
	s.Match = &Match{MaxPowerKW: dec("11")}
	s.TotalEnergy = dec("24.2") // 11 × 2 × 1.1
	require.Empty(t, Validate(s, DefaultThresholds, Facts{TokenKnown: true}, now))
	s.TotalEnergy = dec("24.21")
	fs := Validate(s, DefaultThresholds, Facts{TokenKnown: true}, now)
	require.Len(t, fs, 1)
	require.Equal(t, CheckEnergyPlausible, fs[0].Check)
	require.Contains(t, fs[0].Detail, "11 kW")
}

func TestResolveLayers(t *testing.T) {
	day := 24 * time.Hour
	week := 7 * day
	tol := dec("1.5")
	admin := Overrides{MaxAge: &week, EnergyTolerance: &tol}
	month := 30 * day
	partner := Overrides{MaxAge: &month}
	got := Resolve(DefaultThresholds, admin, partner)
	require.Equal(t, month, got.MaxAge, "the partner's override wins")
	require.True(t, got.EnergyTolerance.Equal(tol), "the administration's override applies where the partner sets nothing")
	require.Equal(t, DefaultThresholds.FutureTolerance, got.FutureTolerance)
	require.True(t, got.DefaultMaxPowerKW.Equal(DefaultThresholds.DefaultMaxPowerKW))
}

func TestAfterMatchRetriesThenDropsOut(t *testing.T) {
	s := good()
	sched := Schedule{time.Minute, time.Hour}
	o := AfterMatch(s, nil, EVSENotFound, sched, now)
	require.Equal(t, Outcome{State: Matching, Attempts: 1, RetryAt: now.Add(time.Minute)}, o)
	s.Attempts = o.Attempts
	o = AfterMatch(s, nil, EVSENotFound, sched, now)
	require.Equal(t, Matching, o.State)
	require.Equal(t, now.Add(time.Hour), o.RetryAt)
	s.Attempts = o.Attempts
	o = AfterMatch(s, nil, ConnectorNotFound, sched, now)
	require.Equal(t, DroppedOut, o.State)
	require.Equal(t, "Connector not found", o.Reason)
	require.Equal(t, 3, o.Attempts)

	m := &Match{ConnectorID: "1"}
	o = AfterMatch(good(), m, Found, sched, now)
	require.Equal(t, Validating, o.State)
	require.Same(t, m, o.Match)

	o = AfterMatch(good(), &Match{DropoutAll: true}, Found, sched, now)
	require.Equal(t, DroppedOut, o.State)
	require.Equal(t, ReasonDropoutAll, o.Reason)

	var total time.Duration
	for _, d := range DefaultSchedule {
		total += d
	}
	require.True(t, total > 20*time.Hour && total < 26*time.Hour, "about a day: %s", total)
}

func TestAfterValidation(t *testing.T) {
	s := good()
	require.Equal(t, ReadyForPricing, AfterValidation(s, DefaultThresholds, Facts{TokenKnown: true}, now).State)
	s.Currency = "XYZ"
	s.Start = s.End
	o := AfterValidation(s, DefaultThresholds, Facts{TokenKnown: true}, now)
	require.Equal(t, DroppedOut, o.State)
	require.Equal(t, CheckStartBeforeEnd, o.Check, "the first failing check names the case")
}

func TestNormalizeEVSEIDAndCaseKey(t *testing.T) {
	require.Equal(t, NormalizeEVSEID("NL*TNM*E0001*1"), NormalizeEVSEID("nltnme00011"))
	require.Equal(t, "XYZ12", NormalizeEVSEID("x-y z_1.2"))
	a, b := good(), good()
	b.Location.EvseID = "be-bec-e041503001"
	b.CountryCode = "be"
	require.Equal(t, KeyOf(a, "EVSE not found"), KeyOf(b, "EVSE not found"))
	require.NotEqual(t, KeyOf(a, "EVSE not found"), KeyOf(a, "Location not found"))
	b.Location.EvseID = ""
	require.Equal(t, "3256", KeyOf(b, "x").EVSE)
}

func TestReprocess(t *testing.T) {
	s := good()
	_, err := Reprocess(s, Retry, "")
	require.True(t, fault.Is(err, fault.KindConflict), "%v", err)

	s.State, s.Attempts, s.Match = DroppedOut, 9, &Match{}
	r, err := Reprocess(s, Retry, "")
	require.NoError(t, err)
	require.Equal(t, Received, r.State)
	require.Zero(t, r.Attempts)
	require.Nil(t, r.Match)

	r, err = Reprocess(s, Bypass, CheckNotTooOld)
	require.NoError(t, err)
	require.Equal(t, []Check{CheckNotTooOld}, r.Bypass)
	require.Nil(t, s.Bypass, "the original is not modified")
	r.State = DroppedOut
	r, err = Reprocess(r, Bypass, CheckNotTooOld)
	require.NoError(t, err)
	require.Equal(t, []Check{CheckNotTooOld}, r.Bypass, "bypassing twice lists the check once")

	_, err = Reprocess(s, Bypass, "nope")
	require.True(t, fault.Is(err, fault.KindInvalid))
	_, err = Reprocess(s, "later", "")
	require.True(t, fault.Is(err, fault.KindInvalid))

	r, err = Reprocess(s, Discard, "")
	require.NoError(t, err)
	require.Equal(t, Discarded, r.State)
	require.False(t, r.State.Pending())
	require.True(t, Matching.Pending())
}
