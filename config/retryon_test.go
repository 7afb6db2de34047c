package config

import (
	"strings"
	"testing"
)

func TestParseRetryOn(t *testing.T) {
	for _, tc := range []struct {
		words []string
		want  RetryOn
	}{
		{[]string{"none"}, 0},
		{[]string{"conn-failure"}, RetryConnFailure},
		{[]string{"503", "empty-response"}, Retry503 | RetryEmptyResponse},
		{[]string{"401", "403", "404", "408", "425", "500", "501", "502", "503", "504"}, Retry401 | Retry403 | Retry404 | Retry408 | Retry425 | Retry500 | Retry501 | Retry502 | Retry503 | Retry504},
		{[]string{"all-retryable-errors"}, RetryConnFailure | RetryEmptyResponse | RetryJunkResponse | RetryResponseTimeout | Retry0RTTRejected | Retry500 | Retry502 | Retry503 | Retry504},
		{[]string{"junk-response", "response-timeout", "0rtt-rejected"}, RetryJunkResponse | RetryResponseTimeout | Retry0RTTRejected},
	} {
		got, err := ParseRetryOn(tc.words)
		if err != nil || got != tc.want {
			t.Errorf("%v: %b, %v; want %b", tc.words, got, err, tc.want)
		}
	}
	for _, words := range [][]string{nil, {"none", "503"}, {"503", "none"}, {"505"}, {"conn-failures"}} {
		if _, err := ParseRetryOn(words); err == nil {
			t.Errorf("%v: no error", words)
		}
	}
}

func TestRetryOnStatus(t *testing.T) {
	r := Retry503 | Retry404 | RetryEmptyResponse
	for status, want := range map[int]bool{503: true, 404: true, 500: false, 200: false, 502: false} {
		if r.Status(status) != want {
			t.Errorf("Status(%d) = %v", status, !want)
		}
	}
	if RetryConnFailure.AfterConnect() || !(RetryConnFailure | Retry0RTTRejected).AfterConnect() {
		t.Error("AfterConnect: only conn-failure is before the connection opens")
	}
}

// retry_on takes statuses as YAML numbers; unset, it is conn-failure.
func TestRetryOnYAML(t *testing.T) {
	c, err := Parse([]byte(`frontends: [{name: a, bind: ["127.0.0.1:1"], default_backend: b}]
backends:
  - {name: b, retry_on: [conn-failure, 503, empty-response], servers: [{name: s, address: "127.0.0.1:1"}]}
  - {name: d, servers: [{name: s, address: "127.0.0.1:1"}]}
  - {name: n, retry_on: [none], servers: [{name: s, address: "127.0.0.1:1"}]}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []RetryOn{RetryConnFailure | Retry503 | RetryEmptyResponse, RetryConnFailure, 0}
	for i, b := range c.Backends {
		if got := b.RetryOnOr(); got != want[i] {
			t.Errorf("%s: %b, want %b (%s)", b.Name, got, want[i], strings.Join(b.RetryOn, " "))
		}
	}
}
