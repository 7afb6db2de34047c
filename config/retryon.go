package config

import (
	"errors"
	"fmt"
	"strconv"
)

// RetryOn is the set of failures on which a request goes again to a
// server, as HAProxy 2.6's retry-on: a failed connection, or (for an
// HTTP request kept whole, see proxy) an answer that went wrong.
type RetryOn uint32

const (
	RetryConnFailure     RetryOn = 1 << iota // the connection did not open
	RetryEmptyResponse                       // the server closed before a whole response head
	RetryJunkResponse                        // the response head is not HTTP
	RetryResponseTimeout                     // no response head within timeouts.server
	Retry0RTTRejected                        // a TLS server refused early data: luaedge sends none
	Retry401
	Retry403
	Retry404
	Retry408
	Retry425
	Retry500
	Retry501
	Retry502
	Retry503
	Retry504
)

// retryStatuses are the statuses retry-on names, with their bits.
var retryStatuses = [...]struct {
	status int
	bit    RetryOn
}{{401, Retry401}, {403, Retry403}, {404, Retry404}, {408, Retry408}, {425, Retry425}, {500, Retry500}, {501, Retry501}, {502, Retry502}, {503, Retry503}, {504, Retry504}}

// AllRetryableErrors is retry-on's all-retryable-errors.
const AllRetryableErrors = RetryConnFailure | RetryEmptyResponse | RetryJunkResponse | RetryResponseTimeout | Retry0RTTRejected | Retry500 | Retry502 | Retry503 | Retry504

// ParseRetryOn reads retry-on's keywords. As HAProxy's, a list replaces
// the default (conn-failure) rather than adding to it, and none stands
// alone.
func ParseRetryOn(words []string) (RetryOn, error) {
	if len(words) == 0 {
		return 0, errors.New("want at least one keyword saying when to retry (none for never)")
	}
	var r RetryOn
	for i, w := range words {
		switch w {
		case "none":
			if i != 0 || len(words) > 1 {
				return 0, errors.New("'none' stands alone")
			}
		case "conn-failure":
			r |= RetryConnFailure
		case "empty-response":
			r |= RetryEmptyResponse
		case "junk-response":
			r |= RetryJunkResponse
		case "response-timeout":
			r |= RetryResponseTimeout
		case "0rtt-rejected":
			r |= Retry0RTTRejected
		case "all-retryable-errors":
			r |= AllRetryableErrors
		default:
			bit := RetryOn(0)
			for _, s := range retryStatuses {
				if strconv.Itoa(s.status) == w {
					bit = s.bit
				}
			}
			if bit == 0 {
				return 0, fmt.Errorf("unknown keyword '%s'", w)
			}
			r |= bit
		}
	}
	return r, nil
}

// Status reports whether a response with status goes again.
func (r RetryOn) Status(status int) bool {
	for _, s := range retryStatuses {
		if s.status == status {
			return r&s.bit != 0
		}
	}
	return false
}

// AfterConnect reports whether r names a failure once the connection
// opened (HAProxy's layer 7 retries), for which the request is kept.
func (r RetryOn) AfterConnect() bool { return r&^RetryConnFailure != 0 }

// RetryOnOr is the backend's RetryOn as its set: conn-failure when not
// set, as HAProxy's default. The list was checked by Validate.
func (b *Backend) RetryOnOr() RetryOn {
	if b.RetryOn == nil {
		return RetryConnFailure
	}
	r, _ := ParseRetryOn(b.RetryOn)
	return r
}
