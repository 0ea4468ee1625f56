// Package pricing is the OCPI 2.2.1 tariff engine: it prices a charging
// session (the charging periods of a CDR or Session) with a tariff exactly as
// OCPI 2.2.1 mod_tariffs and mod_cdrs describe, and explains the result line
// by line so that a disputed CDR can be judged from the breakdown alone.
//
// The package has no I/O. Price, Lint and Explain are pure functions; the
// OCPI wire types in package ocpi map to and from these domain types.
//
// # How a session is priced (our reading of the specification)
//
// Element selection (mod_tariffs "Tariff Object"): for every moment of the
// session and for every dimension separately, the price component used is the
// one of the first tariff element in the list that has a component of that
// dimension and whose restrictions all match at that moment ("logical AND",
// mod_tariffs "TariffRestrictions class"). When no element matches, that
// dimension is free at that moment. The breakdown records which element was
// used and which of its restrictions matched; Line.Why renders it.
//
// Restrictions are evaluated in the local time of the location (the
// *time.Location given to Price; callers get it from ZoneFor: the
// location's time_zone, else its country's zone when the country keeps one
// local time, else UTC with a note): start_time/end_time (end_time < start_time
// wraps past midnight, end_time 00:00 means end of day), start_date
// (inclusive) and end_date (exclusive), day_of_week. min_kwh (inclusive) and
// max_kwh (exclusive) compare with the energy charged in the session so far;
// min_duration (inclusive) and max_duration (exclusive) with the time elapsed
// since the session started; min/max current and power with the MIN_* and
// MAX_* values the period reports (see matchRange for missing values).
//
// Period splitting (mod_cdrs "ChargingPeriod"): a CPO must start a new
// charging period whenever another price component becomes active, but many
// do not. Price therefore splits every charging period at each instant where
// a restriction can change its outcome — a local start_time/end_time, a local
// midnight (day_of_week, start_date, end_date), the moment the session
// duration reaches a min_duration/max_duration, and the moment the session
// energy reaches a min_kwh/max_kwh — assuming that within one charging period
// energy, time and parking time accrue at a constant rate. The additive
// volumes (ENERGY, TIME, PARKING_TIME, RESERVATION_TIME) are divided in
// proportion to the elapsed share of the period (at a kWh boundary the energy
// is split exactly at the boundary); MIN/MAX current and power are copied to
// every part. The parts always add up exactly to the original volumes.
//
// step_size (mod_cdrs "step_size", mod_tariffs "PriceComponent class"): the
// step is applied once per session to ENERGY, and once to TIME and
// PARKING_TIME combined, never per period. For a dimension group, the "last"
// priced line is found (the last period part in which a price component of
// that group was active for a non-zero volume; when that part has both TIME
// and PARKING_TIME, parking wins because "step_size is only taken into account
// for the total parking duration"). The step_size of that last component is
// applied to the TOTAL volume of that line's dimension that was billed by any
// component in the session, rounded up to the next multiple of the step, and
// the rounding difference is added to the last line only. So a TIME followed
// by PARKING_TIME is not rounded ("it is followed by another time based
// period"), 6 + 22 minutes at step 10 minutes bill 30 minutes, not 36, and
// time during which no component was active does not count towards the total.
// Reservation time is a separate group with its own step.
//
// FLAT is charged once per session: the FLAT component active in the first
// part of the charging session in which one is active. A reservation fee (a
// FLAT in a reservation element) is charged once for the reservation.
//
// min_price and max_price apply separately to the total excluding VAT and to
// the total including VAT (mod_tariffs, notes below the Tariff table). The
// difference is an explicit adjustment in the breakdown; the per-dimension
// totals (total_energy_cost, ...) are not adjusted.
//
// # Compiled tariffs (for callers that price many sessions)
//
// Price prepares the tariff on every call. Compile does that preparation
// once and returns a *Compiled, immutable and safe for concurrent use,
// whose Price method gives identical results; a pricer should keep one per
// tariff version (for example keyed by country code, party id, tariff id
// and last_updated) instead of calling Price with the same tariff again.
// Both compute with exact 128-bit decimal arithmetic (num.go) that yields
// the same coefficients and exponents as shopspring/decimal, and allocate
// a Result's decimals from one block (decimalraw.go); reference_test.go
// keeps the engine as it was before and equivalence_test.go checks, for
// random tariffs and sessions, that the results are bit-identical.
//
// Rounding: OCPI prescribes no price rounding ("NOTE: There are no parameters
// related to price rounding", mod_tariffs "Tariff Object"), so amounts are
// exact decimals. The only rounding is step_size on volumes. Converting time
// between hours and seconds divides by 3600 with 20 fractional digits.
package pricing
