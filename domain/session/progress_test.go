package session

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestChangeOf(t *testing.T) {
	p := func(st ProgressStatus, kwh int64, periods int) Progress {
		return Progress{Status: st, Kwh: decimal.NewFromInt(kwh), Periods: periods}
	}
	active := p(StatusActive, 5, 2)
	for _, tc := range []struct {
		name string
		prev *Progress
		next Progress
		want Change
	}{
		{"first report", nil, p(StatusPending, 0, 0), ChangeStarted},
		{"first report active", nil, active, ChangeStarted},
		{"first report already over", nil, p(StatusCompleted, 9, 3), ChangeStopped},
		{"first report invalid", nil, p(StatusInvalid, 0, 0), ChangeStopped},
		{"completed with the last meter values", &active, p(StatusCompleted, 9, 3), ChangeStopped},
		{"declared invalid", &active, p(StatusInvalid, 5, 2), ChangeStopped},
		{"energy", &active, p(StatusActive, 6, 2), ChangeMeter},
		{"energy written differently is no change", &active, Progress{Status: StatusActive, Kwh: decimal.RequireFromString("5.000"), Periods: 2}, ChangeUpdated},
		{"a period", &active, p(StatusActive, 5, 3), ChangeMeter},
		{"periods replaced by fewer", &active, p(StatusActive, 5, 1), ChangeMeter},
		{"pending to active", ptr(p(StatusPending, 0, 0)), p(StatusActive, 0, 0), ChangeUpdated},
		{"cost or end time only", &active, active, ChangeUpdated},
		{"a correction of a completed session", ptr(p(StatusCompleted, 9, 3)), p(StatusCompleted, 10, 3), ChangeMeter},
		{"a completed session reported again", ptr(p(StatusCompleted, 9, 3)), p(StatusCompleted, 9, 3), ChangeUpdated},
	} {
		if got := ChangeOf(tc.prev, tc.next); got != tc.want {
			t.Errorf("%s: ChangeOf = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func ptr(p Progress) *Progress { return &p }

func TestAcceptsReport(t *testing.T) {
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	if !AcceptsReport(at, at) || !AcceptsReport(at, at.Add(time.Second)) {
		t.Error("a report as recent as the stored one or newer is applied")
	}
	if AcceptsReport(at, at.Add(-time.Nanosecond)) {
		t.Error("an older report is not applied")
	}
	for _, s := range ProgressStatuses {
		if !s.Valid() {
			t.Errorf("%s is valid", s)
		}
	}
	if ProgressStatus("CHARGING").Valid() || !StatusCompleted.Final() || StatusActive.Final() || StatusReservation.Final() {
		t.Error("statuses")
	}
}
