package metrics

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The typed and JSON forms of HAProxy's "show stat" and "show info": each
// value with its field's position and name, its tags (origin, nature,
// scope) and its type, in HAProxy 2.6's shapes, so that tools reading
// HAProxy's typed output read luaedge's.

// Field is one value of a typed answer. Kind is the field's tags and
// type as the typed form writes them, "MCP:u64": origin (Metric, Status,
// Key, Config, Product), nature (Age, avg, Counter, Duration, Gauge,
// Limit, Max, Name, Output, Rate, Time) and scope (Process, Service);
// Value is its text, a decimal number for the numeric types.
type Field struct {
	Pos   int
	Name  string
	Kind  string
	Value string
}

// statKinds are HAProxy's tags and types of the stat fields luaedge
// writes; backendKinds those that differ on a BACKEND line.
var statKinds = map[string]string{
	"pxname": "KNS:str", "svname": "KNS:str", "qcur": "MGP:u32", "qmax": "MMP:u32", "scur": "MGP:u32", "smax": "MMP:u32",
	"slim": "CLP:u32", "stot": "MCP:u64", "bin": "MCP:u64", "bout": "MCP:u64", "dreq": "MCP:u64", "dresp": "MCP:u64",
	"ereq": "MCP:u64", "econ": "MCP:u64", "eresp": "MCP:u64", "wretr": "MCP:u64", "wredis": "MCP:u64", "status": "SGP:str", "weight": "MaP:u32", "act": "SGP:u32",
	"bck": "SGP:u32", "chkfail": "MCP:u64", "chkdown": "MCP:u64", "lastchg": "MAP:u32", "pid": "KGP:u32", "iid": "KGS:u32",
	"sid": "KGS:u32", "lbtot": "MCP:u64", "type": "CGS:u32", "rate": "MRP:u32", "rate_max": "MMP:u32",
	"check_status": "MOP:str", "check_code": "MOP:u32", "check_duration": "MDP:u64",
	"hrsp_1xx": "MCP:u64", "hrsp_2xx": "MCP:u64", "hrsp_3xx": "MCP:u64", "hrsp_4xx": "MCP:u64", "hrsp_5xx": "MCP:u64",
	"hrsp_other": "MCP:u64", "req_rate": "MRP:u32", "req_rate_max": "MMP:u32", "req_tot": "MCP:u64", "rtime": "MaP:u32",
	"check_rise": "CGS:u32", "check_fall": "CGS:u32", "check_health": "CGS:u32", "addr": "CGS:str", "mode": "CGS:str",
	"algo": "CGS:str", "conn_rate": "MRP:u32", "conn_rate_max": "MMP:u32", "conn_tot": "MCP:u64", "uweight": "MaP:u32",
}

var backendKinds = map[string]string{"act": "MGP:u32", "bck": "MGP:u32", "rate": "MGP:u32", "rate_max": "MGP:u32"}

// fields are a line's values that are set, with their kinds.
func (l statLine) fields() []Field {
	var out []Field
	for i, v := range l.vals {
		if v == "" {
			continue
		}
		name := csvFields[i]
		kind := statKinds[name]
		if k, ok := backendKinds[name]; ok && l.obj == 'B' {
			kind = k
		}
		out = append(out, Field{Pos: i, Name: name, Kind: kind, Value: v})
	}
	return out
}

// Typed is "show stat typed": a line per value,
// "<obj>.<proxy id>.<id>.<pos>.<name>.<process>:<tags>:<type>:<value>".
func (s *Stats) Typed(f CSVFilter) string {
	var b strings.Builder
	for _, l := range s.statLines(f) {
		for _, fd := range l.fields() {
			fmt.Fprintf(&b, "%c.%d.%d.%d.%s.1:%s:%s\n", l.obj, l.proxy, l.id, fd.Pos, fd.Name, fd.Kind, fd.Value)
		}
	}
	return b.String()
}

var objTypes = map[byte]string{'F': "Frontend", 'B': "Backend", 'S': "Server"}

// JSON is "show stat json": an array per object of its values, each an
// object naming its object, field, tags and typed value.
func (s *Stats) JSON(f CSVFilter) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, l := range s.statLines(f) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		for j, fd := range l.fields() {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"objType":"%s","proxyId":%d,"id":%d,`, objTypes[l.obj], l.proxy, l.id)
			writeJSONField(&b, fd)
		}
		b.WriteByte(']')
	}
	b.WriteString("]\n")
	return b.String()
}

// InfoTyped is "show info typed": "<pos>.<name>.<process>:<tags>:<type>:<value>".
func InfoTyped(fields []Field) string {
	var b strings.Builder
	for _, fd := range fields {
		fmt.Fprintf(&b, "%d.%s.1:%s:%s\n", fd.Pos, fd.Name, fd.Kind, fd.Value)
	}
	return b.String()
}

// InfoJSON is "show info json": an array of the fields.
func InfoJSON(fields []Field) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, fd := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		writeJSONField(&b, fd)
	}
	b.WriteString("]\n")
	return b.String()
}

// The words of the tags' letters in the JSON form, by position.
var (
	origins = map[byte]string{'M': "Metric", 'S': "Status", 'K': "Key", 'C': "Config", 'P': "Product"}
	natures = map[byte]string{'A': "Age", 'a': "Avg", 'C': "Counter", 'D': "Duration", 'G': "Gauge", 'L': "Limit",
		'M': "Max", 'N': "Name", 'O': "Output", 'R': "Rate", 'T': "Time"}
	scopes = map[byte]string{'P': "Process", 'S': "Service", 'C': "Cluster", 's': "System"}
)

// writeJSONField writes the field's members and closes its object (the
// caller opened it and wrote its object's members).
func writeJSONField(b *strings.Builder, fd Field) {
	tags, typ, _ := strings.Cut(fd.Kind, ":")
	val := fd.Value
	if typ == "str" {
		val = jsonString(val)
	}
	fmt.Fprintf(b, `"field":{"pos":%d,"name":%s},"processNum":1,"tags":{"origin":"%s","nature":"%s","scope":"%s"},"value":{"type":"%s","value":%s}}`,
		fd.Pos, jsonString(fd.Name), origins[tags[0]], natures[tags[1]], scopes[tags[2]], typ, val)
}

func jsonString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}
