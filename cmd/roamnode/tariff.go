package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	_ "time/tzdata" // restriction time zones must resolve on hosts without zoneinfo (DESIGN.md, Time)

	"github.com/shopspring/decimal"

	"github.com/roamnode/roamnode/domain/pricing"
	"github.com/roamnode/roamnode/ocpi"
)

const tariffUsage = `usage: roamnode tariff <command>

commands:
  price    --cdr FILE [--tariff FILE] [--tz ZONE]   price a CDR, print totals and breakdown as JSON
  validate --cdr FILE [--tariff FILE] [--tz ZONE]   compare the CDR's total_* fields with the computed ones (4 decimals)
  lint     FILE                                      print warnings about a tariff
  explain  FILE                                      describe a tariff in plain English

Every command also takes --ocpi-version 2.1.1|2.2.1. Files may be OCPI 2.2.1
or OCPI 2.1.1 (converted to 2.2.1 on input); the version of each file is
detected from its fields unless --ocpi-version says it. The tariff is
--tariff, else the CDR's tariffs[0]. The time zone for restrictions is --tz,
else the CDR location's time_zone, else the zone of its country when the
whole country keeps one time (not USA, ESP, PRT, …), else UTC.`

// errUsage marks command-line mistakes (exit status 2).
var errUsage = errors.New("usage")

// runTariff is `roamnode tariff …`: the offline OCPI 2.2.1 tariff tool. It
// returns the exit status: 0 success, 1 a failed check or unreadable input,
// 2 a usage error.
func runTariff(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, tariffUsage)
		return 2
	}
	var err error
	status := 0
	switch args[0] {
	case "price":
		err = tariffPrice(args[1:], stdout, stderr)
	case "validate":
		status, err = tariffValidate(args[1:], stdout, stderr)
	case "lint":
		status, err = tariffLint(args[1:], stdout)
	case "explain":
		err = tariffExplain(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, tariffUsage)
		return 0
	default:
		err = fmt.Errorf("%w: unknown tariff command %q", errUsage, args[0])
	}
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "roamnode tariff: %v\n\n%s\n", strings.TrimPrefix(err.Error(), "usage: "), tariffUsage)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "roamnode tariff: %v\n", err)
		return 1
	}
	return status
}

// cdrFlags are the flags of price and validate.
type cdrFlags struct {
	cdr, tariff, tz string
	version         ocpi.VersionNumber
}

// versionFlag is --ocpi-version: empty (detect), 2.1.1 or 2.2.1.
type versionFlag struct{ v *ocpi.VersionNumber }

func (f versionFlag) String() string {
	if f.v == nil {
		return ""
	}
	return string(*f.v)
}

func (f versionFlag) Set(s string) error {
	switch v := ocpi.VersionNumber(s); v {
	case ocpi.Version211, ocpi.Version221:
		*f.v = v
		return nil
	}
	return fmt.Errorf("OCPI version %q is not 2.1.1 or 2.2.1", s)
}

func parseCDRFlags(name string, args []string, stderr io.Writer) (cdrFlags, error) {
	var f cdrFlags
	fs := flag.NewFlagSet("tariff "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.cdr, "cdr", "", "CDR JSON file")
	fs.StringVar(&f.tariff, "tariff", "", "tariff JSON file (default: the CDR's tariffs[0])")
	fs.StringVar(&f.tz, "tz", "", "IANA time zone for tariff restrictions")
	fs.Var(versionFlag{&f.version}, "ocpi-version", "OCPI version of the files (default: detected)")
	if err := fs.Parse(args); err != nil {
		return f, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if f.cdr == "" {
		return f, fmt.Errorf("%w: %s needs --cdr FILE", errUsage, name)
	}
	if f.tz != "" {
		if _, err := time.LoadLocation(f.tz); err != nil {
			return f, fmt.Errorf("%w: --tz %q: %v", errUsage, f.tz, err)
		}
	}
	return f, nil
}

// readTariffFile reads an OCPI 2.1.1 or 2.2.1 tariff (ocpi.ReadTariff).
func readTariffFile(path string, version ocpi.VersionNumber) (ocpi.TariffInput, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ocpi.TariffInput{}, err
	}
	in, err := ocpi.ReadTariff(b, version)
	if err != nil {
		return ocpi.TariffInput{}, fmt.Errorf("%s: %w", path, err)
	}
	return in, nil
}

// priced is a CDR priced with its tariff.
type priced struct {
	cdr ocpi.CDR
	// version is the OCPI version the CDR file was read as.
	version ocpi.VersionNumber
	zone    string
	// zoneNote says why the location's time_zone was not used ("" when it
	// or --tz was).
	zoneNote string
	result   pricing.Result
}

func priceCDR(f cdrFlags) (priced, error) {
	b, err := os.ReadFile(f.cdr)
	if err != nil {
		return priced{}, err
	}
	in, err := ocpi.ReadCDR(b, f.version)
	if err != nil {
		return priced{}, fmt.Errorf("%s: %w", f.cdr, err)
	}
	c := in.CDR
	var wt ocpi.Tariff
	switch {
	case f.tariff != "":
		t, err := readTariffFile(f.tariff, f.version)
		if err != nil {
			return priced{}, err
		}
		wt = t.Tariff
	case len(c.Tariffs) > 0:
		wt = c.Tariffs[0]
	default:
		return priced{}, fmt.Errorf("%s has no tariffs; give one with --tariff", f.cdr)
	}
	tariff, err := wt.ToPricing()
	if err != nil {
		return priced{}, fmt.Errorf("tariff: %w", err)
	}
	session, err := c.ToSession()
	if err != nil {
		return priced{}, fmt.Errorf("CDR: %w", err)
	}
	loc, zone, note, err := resolveZone(f.tz, in.TimeZone, c.CdrLocation.Country)
	if err != nil {
		return priced{}, err
	}
	res, err := pricing.Price(tariff, session, loc)
	if err != nil {
		return priced{}, err
	}
	return priced{cdr: c, version: in.Version, zone: zone, zoneNote: note, result: res}, nil
}

// resolveZone picks the time zone for tariff restrictions: the flag, else
// pricing.ZoneFor — the location's time_zone, the zone of its country when
// the country has a single one, UTC — with ZoneFor's note when it fell back.
func resolveZone(flagTZ, locationTZ, country string) (*time.Location, string, string, error) {
	if flagTZ != "" {
		loc, err := time.LoadLocation(flagTZ)
		if err != nil {
			return nil, "", "", fmt.Errorf("%w: --tz %q: %v", errUsage, flagTZ, err)
		}
		return loc, flagTZ, "", nil
	}
	z := pricing.ZoneFor(locationTZ, country)
	return z.Loc, z.Loc.String(), z.Note, nil
}

// report is the JSON that `tariff price` prints: the OCPI CDR totals with
// their OCPI names, then the breakdown they are the sums of.
type report struct {
	// OCPIVersion is the version the CDR file was read as.
	OCPIVersion          string       `json:"ocpi_version"`
	TariffID             string       `json:"tariff_id,omitempty"`
	Currency             string       `json:"currency,omitempty"`
	TimeZone             string       `json:"time_zone"`
	TimeZoneNote         string       `json:"time_zone_note,omitempty"`
	TotalCost            ocpi.Price   `json:"total_cost"`
	TotalFixedCost       ocpi.Price   `json:"total_fixed_cost"`
	TotalEnergy          ocpi.Number  `json:"total_energy"`
	TotalEnergyCost      ocpi.Price   `json:"total_energy_cost"`
	TotalTime            ocpi.Number  `json:"total_time"`
	TotalTimeCost        ocpi.Price   `json:"total_time_cost"`
	TotalParkingTime     ocpi.Number  `json:"total_parking_time"`
	TotalParkingCost     ocpi.Price   `json:"total_parking_cost"`
	TotalReservationCost ocpi.Price   `json:"total_reservation_cost"`
	Breakdown            []reportPart `json:"breakdown"`
	StepSize             []reportStep `json:"step_size,omitempty"`
	Adjustments          []reportAdj  `json:"adjustments,omitempty"`
	Warnings             []string     `json:"warnings,omitempty"`
}

type reportPart struct {
	ChargingPeriod int           `json:"charging_period"`
	Split          bool          `json:"split,omitempty"`
	Start          ocpi.DateTime `json:"start_date_time"`
	End            ocpi.DateTime `json:"end_date_time"`
	LocalStart     string        `json:"local_start"`
	Lines          []reportLine  `json:"lines"`
}

type reportLine struct {
	Dimension    string       `json:"dimension"`
	Reservation  bool         `json:"reservation,omitempty"`
	Volume       ocpi.Number  `json:"volume"`
	BilledVolume ocpi.Number  `json:"billed_volume"`
	UnitPrice    ocpi.Number  `json:"unit_price"`
	VAT          *ocpi.Number `json:"vat,omitempty"`
	StepSize     int64        `json:"step_size,omitempty"`
	Amount       ocpi.Price   `json:"amount"`
	Element      *int         `json:"tariff_element"`
	Why          string       `json:"why"`
}

type reportStep struct {
	Dimension   string      `json:"dimension"`
	Reservation bool        `json:"reservation,omitempty"`
	StepSize    int64       `json:"step_size"`
	Total       ocpi.Number `json:"total_volume"`
	Billed      ocpi.Number `json:"billed_volume"`
}

type reportAdj struct {
	Reason string     `json:"reason"`
	Amount ocpi.Price `json:"amount"`
}

func newReport(p priced) report {
	r := p.result
	out := report{
		OCPIVersion: string(p.version), TariffID: r.TariffID, Currency: r.Currency, TimeZone: p.zone, TimeZoneNote: p.zoneNote,
		TotalCost: ocpi.PriceOf(r.TotalCost), TotalFixedCost: ocpi.PriceOf(r.TotalFixedCost),
		TotalEnergy: ocpi.NewNumber(r.TotalEnergy), TotalEnergyCost: ocpi.PriceOf(r.TotalEnergyCost),
		TotalTime: ocpi.NewNumber(r.TotalTime), TotalTimeCost: ocpi.PriceOf(r.TotalTimeCost),
		TotalParkingTime: ocpi.NewNumber(r.TotalParkingTime), TotalParkingCost: ocpi.PriceOf(r.TotalParkingCost),
		TotalReservationCost: ocpi.PriceOf(r.TotalReservationCost),
		Breakdown:            []reportPart{}, Warnings: r.Warnings,
	}
	for i := range r.Parts {
		part := &r.Parts[i]
		rp := reportPart{ChargingPeriod: part.Period, Split: part.Split, Start: ocpi.NewDateTime(part.Volumes.Start),
			End: ocpi.NewDateTime(part.End), LocalStart: part.Local.Format("2006-01-02T15:04:05 Mon"), Lines: []reportLine{}}
		for j := range part.Lines {
			l := &part.Lines[j]
			rl := reportLine{Dimension: string(l.Dimension), Reservation: l.Reservation, Volume: ocpi.NewNumber(l.Volume),
				BilledVolume: ocpi.NewNumber(l.Billed), UnitPrice: ocpi.NewNumber(l.UnitPrice), VAT: ocpi.NumberPtr(l.VAT),
				StepSize: l.StepSize, Amount: ocpi.PriceOf(l.Amount), Why: part.Why(l)}
			if l.Element >= 0 {
				e := l.Element
				rl.Element = &e
			}
			rp.Lines = append(rp.Lines, rl)
		}
		out.Breakdown = append(out.Breakdown, rp)
	}
	for _, s := range r.Steps {
		out.StepSize = append(out.StepSize, reportStep{Dimension: string(s.Dimension), Reservation: s.Reservation,
			StepSize: s.StepSize, Total: ocpi.NewNumber(s.Total), Billed: ocpi.NewNumber(s.Billed)})
	}
	for _, a := range r.Adjustments {
		out.Adjustments = append(out.Adjustments, reportAdj{Reason: a.Reason, Amount: ocpi.PriceOf(a.Amount)})
	}
	return out
}

func tariffPrice(args []string, stdout, stderr io.Writer) error {
	f, err := parseCDRFlags("price", args, stderr)
	if err != nil {
		return err
	}
	p, err := priceCDR(f)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(newReport(p))
}

// tariffValidate compares the CDR's stated totals with the computed ones at
// 4 decimals (OCPI types "number type": "numbers use 4 decimals"). Totals
// the CDR leaves out are not compared.
func tariffValidate(args []string, stdout, stderr io.Writer) (int, error) {
	f, err := parseCDRFlags("validate", args, stderr)
	if err != nil {
		return 0, err
	}
	p, err := priceCDR(f)
	if err != nil {
		return 0, err
	}
	// OCPI 2.1.1 total_cost is a number, "Total cost (excluding VAT)":
	// there is no amount including VAT to compare.
	diffs, compared := compareTotals(p.cdr.Totals(), p.result, p.version == ocpi.Version211)
	if p.zoneNote != "" {
		fmt.Fprintf(stderr, "roamnode tariff: note: %s\n", p.zoneNote)
	}
	if len(diffs) == 0 {
		fmt.Fprintf(stdout, "OK: %d totals of %s match at 4 decimals (time zone %s)\n", compared, f.cdr, p.zone)
		return 0, nil
	}
	fmt.Fprintf(stdout, "MISMATCH: %d of %d totals of %s differ at 4 decimals (time zone %s)\n", len(diffs), compared, f.cdr, p.zone)
	for _, d := range diffs {
		fmt.Fprintln(stdout, "  "+d)
	}
	return 1, nil
}

// compareTotals lists the totals of want that differ from got at 4
// decimals; with costExclOnly, total_cost is compared excluding VAT only.
func compareTotals(want ocpi.Totals, got pricing.Result, costExclOnly bool) (diffs []string, compared int) {
	num := func(name string, w *decimal.Decimal, g decimal.Decimal) {
		if w == nil {
			return
		}
		compared++
		if !w.Round(4).Equal(g.Round(4)) {
			diffs = append(diffs, fmt.Sprintf("%-30s CDR %s, computed %s (computed - CDR = %s)", name+":", w, g.Round(4), g.Round(4).Sub(w.Round(4))))
		}
	}
	amt := func(name string, w *pricing.Amount, g pricing.Amount) {
		if w == nil {
			return
		}
		num(name+".excl_vat", &w.ExclVAT, g.ExclVAT)
		num(name+".incl_vat", &w.InclVAT, g.InclVAT)
	}
	if costExclOnly && want.TotalCost != nil {
		num("total_cost", &want.TotalCost.ExclVAT, got.TotalCost.ExclVAT)
	} else {
		amt("total_cost", want.TotalCost, got.TotalCost)
	}
	amt("total_fixed_cost", want.TotalFixedCost, got.TotalFixedCost)
	num("total_energy", want.TotalEnergy, got.TotalEnergy)
	amt("total_energy_cost", want.TotalEnergyCost, got.TotalEnergyCost)
	num("total_time", want.TotalTime, got.TotalTime)
	amt("total_time_cost", want.TotalTimeCost, got.TotalTimeCost)
	num("total_parking_time", want.TotalParkingTime, got.TotalParkingTime)
	amt("total_parking_cost", want.TotalParkingCost, got.TotalParkingCost)
	amt("total_reservation_cost", want.TotalReservationCost, got.TotalReservationCost)
	return diffs, compared
}

// readTariffArg reads the one tariff FILE of lint and explain, which take
// --ocpi-version before or after it.
func readTariffArg(name string, args []string) (pricing.Tariff, error) {
	var version ocpi.VersionNumber
	fs := flag.NewFlagSet("tariff "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(versionFlag{&version}, "ocpi-version", "OCPI version of the file (default: detected)")
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return pricing.Tariff{}, fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		return pricing.Tariff{}, fmt.Errorf("%w: %s needs exactly one tariff FILE", errUsage, name)
	}
	in, err := readTariffFile(files[0], version)
	if err != nil {
		return pricing.Tariff{}, err
	}
	t, err := in.Tariff.ToPricing()
	if err != nil {
		return pricing.Tariff{}, fmt.Errorf("tariff: %w", err)
	}
	return t, nil
}

func tariffLint(args []string, stdout io.Writer) (int, error) {
	t, err := readTariffArg("lint", args)
	if err != nil {
		return 0, err
	}
	ws := pricing.Lint(t)
	for _, w := range ws {
		fmt.Fprintln(stdout, "warning: "+w.String())
	}
	if len(ws) > 0 {
		return 1, nil
	}
	fmt.Fprintln(stdout, "OK: no warnings")
	return 0, nil
}

func tariffExplain(args []string, stdout io.Writer) error {
	t, err := readTariffArg("explain", args)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, pricing.Explain(t))
	return err
}
