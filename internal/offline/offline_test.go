package offline

import (
	"testing"
	"time"
)

func date(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02", s, Warsaw)
	if err != nil {
		panic(err)
	}
	return t
}

func TestEaster(t *testing.T) {
	for year, want := range map[int]string{2024: "2024-03-31", 2025: "2025-04-20", 2026: "2026-04-05", 2027: "2027-03-28", 2030: "2030-04-21", 2038: "2038-04-25"} {
		if got := easter(year).time().Format("2006-01-02"); got != want {
			t.Errorf("Easter %d = %s, want %s", year, got, want)
		}
	}
}

func TestHolidays(t *testing.T) {
	tests := []struct {
		day  string
		want bool
	}{
		{"2026-01-01", true}, {"2026-01-06", true}, {"2026-04-05", true}, {"2026-04-06", true}, // Easter Monday
		{"2026-04-03", false},                                            // Good Friday is a working day in Poland
		{"2026-05-01", true}, {"2026-05-03", true}, {"2026-05-24", true}, // Pentecost
		{"2026-06-04", true}, // Corpus Christi
		{"2026-08-15", true}, {"2026-11-01", true}, {"2026-11-11", true},
		{"2025-12-24", true}, {"2024-12-24", false}, // Christmas Eve free only from 2025
		{"2026-12-25", true}, {"2026-12-26", true}, {"2026-12-27", false}, {"2026-11-12", false},
	}
	for _, tt := range tests {
		if _, got := Holiday(date(tt.day)); got != tt.want {
			t.Errorf("Holiday(%s) = %v, want %v", tt.day, got, tt.want)
		}
	}
}

func TestDeadlines(t *testing.T) {
	tests := []struct {
		name   string
		mode   Mode
		issued string
		outage Period
		during []Period
		want   string
	}{
		{"offline24 on a Thursday", Offline24, "2026-04-02", Period{}, nil, "2026-04-03"},
		{"offline24 before Easter: weekend and Easter Monday skipped", Offline24, "2026-04-03", Period{}, nil, "2026-04-07"},
		{"offline24 before 1 May, across the month end", Offline24, "2026-04-30", Period{}, nil, "2026-05-04"},
		{"offline24 on Friday 30 April 2027: the weekend and 3 May (a Monday) skipped", Offline24, "2027-04-30", Period{}, nil, "2027-05-04"},
		{"offline24 before Christmas Eve 2025", Offline24, "2025-12-23", Period{}, nil, "2025-12-29"},
		{"offline24 before Christmas Eve 2024 (a working day then)", Offline24, "2024-12-23", Period{}, nil, "2024-12-24"},
		{"offline24 on New Year's Eve, across the year end", Offline24, "2026-12-31", Period{}, nil, "2027-01-04"},
		{"offline24 before 11 November", Offline24, "2026-11-10", Period{}, nil, "2026-11-12"},
		{"unavailability ending on a Saturday before All Saints", Unavailable, "2026-10-30",
			Period{Start: date("2026-10-30"), End: date("2026-10-31").Add(15 * time.Hour)}, nil, "2026-11-02"},
		{"unavailability ending at a month end", Unavailable, "2026-01-29",
			Period{Start: date("2026-01-29"), End: date("2026-01-30").Add(10 * time.Hour)}, nil, "2026-02-02"},
		{"failure: 7 business days, 11 November skipped", Failure, "2026-11-04",
			Period{Start: date("2026-11-04"), End: date("2026-11-05").Add(12 * time.Hour)}, nil, "2026-11-17"},
		{"failure over Christmas, New Year and Epiphany", Failure, "2026-12-22",
			Period{Start: date("2026-12-22"), End: date("2026-12-23").Add(9 * time.Hour)}, nil, "2027-01-07"},
		{"failure during offline24 moves the deadline later", Offline24, "2026-06-01", Period{},
			[]Period{{Start: date("2026-06-01"), End: date("2026-06-02").Add(8 * time.Hour)}}, "2026-06-12"},
		{"failure announced after an offline24 deadline passed moves nothing", Offline24, "2026-06-01", Period{},
			[]Period{{Start: date("2026-06-03").Add(time.Hour), End: date("2026-06-04")}}, "2026-06-02"},
		{"failure over before the invoice was issued moves nothing", Offline24, "2026-06-01", Period{},
			[]Period{{Start: date("2026-05-20"), End: date("2026-05-29")}}, "2026-06-02"},
		{"failure moves an unavailability deadline", Unavailable, "2026-06-01",
			Period{Start: date("2026-06-01"), End: date("2026-06-01").Add(12 * time.Hour)},
			[]Period{{Start: date("2026-06-02").Add(9 * time.Hour), End: date("2026-06-02").Add(20 * time.Hour)}}, "2026-06-12"},
		{"failure mode: a new announcement within the 7 days restarts the count (Corpus Christi skipped)", Failure, "2026-05-25",
			Period{Start: date("2026-05-25"), End: date("2026-05-26")},
			[]Period{{Start: date("2026-05-25"), End: date("2026-05-26")}, {Start: date("2026-06-01"), End: date("2026-06-02").Add(7 * time.Hour)}}, "2026-06-12"},
		{"failure mode: one announced after the deadline passed restarts nothing", Failure, "2026-05-25",
			Period{Start: date("2026-05-25"), End: date("2026-05-26")},
			[]Period{{Start: date("2026-06-08"), End: date("2026-06-09")}, {Start: date("2026-05-25"), End: date("2026-05-26")}}, "2026-06-05"},
		{"a total failure announced while an offline24 deadline runs lifts it", Offline24, "2026-06-01", Period{},
			[]Period{{Start: date("2026-06-02").Add(9 * time.Hour), End: date("2026-06-03"), Total: true}}, "no obligation (total failure)"},
		{"a total failure announced after the deadline passed lifts nothing", Offline24, "2026-06-01", Period{},
			[]Period{{Start: date("2026-06-03").Add(time.Hour), End: date("2026-06-04"), Total: true}}, "2026-06-02"},
		{"a chain: the second failure begins during the deadline the first one moved", Offline24, "2026-06-01", Period{},
			[]Period{{Start: date("2026-06-11"), End: date("2026-06-12")}, {Start: date("2026-06-01"), End: date("2026-06-02").Add(8 * time.Hour)}}, "2026-06-23"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Compute(tt.mode, date(tt.issued), tt.outage, tt.during)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.String(); got != tt.want {
				t.Errorf("deadline %s, want %s", got, tt.want)
			}
			if due := d.Due(); !d.None && due.Format("2006-01-02 15:04") != tt.want+" 23:59" {
				t.Errorf("due %v, want the end of %s in Warsaw", due, tt.want)
			}
		})
	}
}

func TestDeadlineStates(t *testing.T) {
	d, _ := Compute(TotalFailure, date("2026-03-02"), Period{}, nil)
	if !d.None || Missed(d, date("2030-01-01")) {
		t.Errorf("total failure: %+v, want no obligation, never missed", d)
	}
	d, _ = Compute(Failure, date("2026-03-02"), Period{Start: date("2026-03-02")}, nil)
	if !d.Open || Missed(d, date("2030-01-01")) {
		t.Errorf("failure still going on: %+v, want an open deadline", d)
	}
	if _, err := Compute("sideways", date("2026-03-02"), Period{}, nil); err == nil {
		t.Error("unknown mode accepted")
	}
	d, _ = Compute(Offline24, date("2026-03-02"), Period{}, nil) // Monday → Tuesday 3 March
	for _, tt := range []struct {
		now          time.Time
		warn, missed bool
	}{
		{date("2026-03-02").Add(20 * time.Hour), false, false},
		{date("2026-03-03").Add(9 * time.Hour), true, false},
		{date("2026-03-04").Add(time.Minute), false, true},
	} {
		if got := LessThanOneBusinessDayLeft(d, tt.now); got != tt.warn {
			t.Errorf("warn at %v = %v, want %v", tt.now, got, tt.warn)
		}
		if got := Missed(d, tt.now); got != tt.missed {
			t.Errorf("missed at %v = %v, want %v", tt.now, got, tt.missed)
		}
	}
}

func TestForInvoice(t *testing.T) {
	d, err := ForInvoice("offline24", "2026-11-10", time.Time{}, Period{}, nil)
	if err != nil || d.String() != "2026-11-12" {
		t.Errorf("ForInvoice offline24 = %v, %v; want 2026-11-12 (11 November skipped)", d, err)
	}
	d, err = ForInvoice("failure", "not a date", date("2026-11-04"), Period{Start: date("2026-11-04"), End: date("2026-11-05")}, nil)
	if err != nil || d.String() != "2026-11-17" {
		t.Errorf("ForInvoice failure = %v, %v; want 7 business days after 5 November, 11 November skipped", d, err)
	}
}
