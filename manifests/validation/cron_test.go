package validation_test

import (
	"testing"

	"github.com/skiff-dev/skiff/manifests/validation"
)

func TestParseCronSchedule(t *testing.T) {
	valid := []string{
		"* * * * *",
		"*/5 * * * *",
		"0 0 * * 0",
		"30 2 1,15 * *",
		"0 9-17/2 * * MON-FRI",
		"0 0 1 jan,Jul ?",
		"5 4 * * sun",
		"0 */6 * * *",
		"15 10 ? * 6",
		"  0   3 * *   *  ",
		"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually",
		"@every 1h30m",
		"CRON_TZ=UTC 0 0 * * *",
		"TZ=Europe/Paris @daily",
	}
	for _, s := range valid {
		if err := validation.ParseCronSchedule(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	invalid := map[string]string{
		"":                          "empty spec string",
		"* * * *":                   "expected exactly 5 fields, found 4: [* * * *]",
		"* * * * * *":               "expected exactly 5 fields, found 6: [* * * * * *]",
		"60 * * * *":                "end of range (60) above maximum (59): 60",
		"* 24 * * *":                "end of range (24) above maximum (23): 24",
		"* * 0 * *":                 "beginning of range (0) below minimum (1): 0",
		"* * * 13 *":                "end of range (13) above maximum (12): 13",
		"* * * * 7":                 "end of range (7) above maximum (6): 7",
		"5-1 * * * *":               "beginning of range (5) beyond end of range (1): 5-1",
		"*/0 * * * *":               "step of range should be a positive number: */0",
		"1-2-3 * * * *":             "too many hyphens: 1-2-3",
		"*/2/3 * * * *":             "too many slashes: */2/3",
		"x * * * *":                 `failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax`,
		"* * * FOO *":               `failed to parse int from FOO: strconv.Atoi: parsing "FOO": invalid syntax`,
		"@fortnightly":              "unrecognized descriptor: @fortnightly",
		"@every 1 hour":             `failed to parse duration @every 1 hour: time: unknown unit " hour" in duration "1 hour"`,
		"TZ=Nowhere/Land * * * * *": "provided bad location Nowhere/Land: unknown time zone Nowhere/Land",
	}
	for s, msg := range invalid {
		err := validation.ParseCronSchedule(s)
		if err == nil {
			t.Errorf("%q accepted, want %q", s, msg)
			continue
		}
		if err.Error() != msg {
			t.Errorf("%q: got %q, want %q", s, err, msg)
		}
	}
}
