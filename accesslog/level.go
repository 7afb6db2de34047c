package accesslog

import (
	"fmt"
	"strings"
)

// Level is a syslog severity (RFC 5424, section 6.2.1): 0 emerg, the
// most severe, to 7 debug. HAProxy's log lines, set-log-level and
// txn:set_loglevel name the same eight.
type Level int8

// The levels luaedge itself uses for access-log lines: info for every
// line, err for the errors of a frontend that logs them apart (HAProxy's
// option log-separate-errors).
const (
	LevelErr   Level = 3
	LevelInfo  Level = 6
	LevelDebug Level = 7
)

var levelNames = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// ParseLevel reads a level's name, as HAProxy's log and set-log-level
// lines write it.
func ParseLevel(name string) (Level, error) {
	for i, n := range levelNames {
		if n == name {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("unknown level %q (want one of %s)", name, strings.Join(levelNames[:], ", "))
}

// String is the level's name.
func (l Level) String() string {
	if l >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// Facility is a syslog facility (RFC 5424): 0 kern to 23 local7.
type Facility uint8

// The facility access-log lines are sent with unless configured.
const FacilityLocal0 Facility = 16

var facilityNames = [...]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

// ParseFacility reads a facility's name, as HAProxy's log lines write it.
func ParseFacility(name string) (Facility, error) {
	for i, n := range facilityNames {
		if n == name {
			return Facility(i), nil
		}
	}
	return 0, fmt.Errorf("unknown facility %q (want one of %s)", name, strings.Join(facilityNames[:], ", "))
}

// Levels is how a frontend's lines are filtered and labelled, as
// HAProxy's log line says (log TARGET FACILITY [MAX [MIN]]): a line whose
// level is less severe than Max is not sent; one more severe than Min is
// sent at Min (so that an emerg does not reach every terminal).
type Levels struct {
	Facility Facility
	Max, Min Level
}

// DefaultLevels sends every line with facility local0.
var DefaultLevels = Levels{Facility: FacilityLocal0, Max: LevelDebug, Min: 0}

// Priority returns the syslog PRI of a line at level l (facility * 8 +
// severity), and false when the line is not sent.
func (v Levels) Priority(l Level) (pri uint8, ok bool) {
	if l > v.Max {
		return 0, false
	}
	if l < v.Min {
		l = v.Min
	}
	return uint8(v.Facility)*8 + uint8(l), true
}
