package metrics

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The typed form says the same as the CSV, value for value, each with
// HAProxy's kind; the JSON form parses and says it again.
func TestTypedAndJSON(t *testing.T) {
	h := NewHistory()
	h.Add(time.Unix(1000, 0), sample(1, 100))
	st := StatsOf(sample(1, 100), h, 0)
	rows := parseCSV(t, st.CSV(CSVFilter{}))
	typed := strings.Split(strings.TrimSuffix(st.Typed(CSVFilter{}), "\n"), "\n")
	objs := map[string]map[string]string{} // "<obj>.<proxy>.<id>": field -> value
	for _, line := range typed {
		head, rest, _ := strings.Cut(line, ":")
		kind := rest[:7]
		value := rest[8:]
		p := strings.Split(head, ".")
		if len(p) != 6 || p[5] != "1" || !strings.Contains("FBS", p[0]) {
			t.Fatalf("typed line %q", line)
		}
		if len(kind) != 7 || kind[3] != ':' || (kind[4:] != "str" && kind[4:] != "u32" && kind[4:] != "u64") {
			t.Fatalf("typed line %q: kind %q", line, kind)
		}
		if pos, _ := strconv.Atoi(p[3]); csvFields[pos] != p[4] {
			t.Fatalf("typed line %q: field %s is at %d", line, p[4], csvIndex[p[4]])
		}
		obj := p[0] + "." + p[1] + "." + p[2]
		if objs[obj] == nil {
			objs[obj] = map[string]string{}
		}
		objs[obj][p[4]] = value
	}
	seen := map[string]string{} // "<pxname>/<svname>.<field>" -> value
	for _, o := range objs {
		for f, v := range o {
			seen[o["pxname"]+"/"+o["svname"]+"."+f] = v
		}
	}
	n := 0
	for _, r := range rows {
		for f, v := range r {
			if v == "" {
				continue
			}
			n++
			if got := seen[r["pxname"]+"/"+r["svname"]+"."+f]; got != v {
				t.Errorf("%s/%s %s: typed %q, CSV %q", r["pxname"], r["svname"], f, got, v)
			}
		}
	}
	if n != len(typed) {
		t.Errorf("%d typed values, %d in the CSV", len(typed), n)
	}
	if !strings.Contains(st.Typed(CSVFilter{}), "B.3.0.19.act.1:MGP:u32:1\n") || !strings.Contains(st.Typed(CSVFilter{}), "S.3.1.19.act.1:SGP:u32:1\n") {
		t.Errorf("act's kinds on a backend and a server:\n%s", st.Typed(CSVFilter{}))
	}

	var jobjs [][]struct {
		ObjType string `json:"objType"`
		ProxyID int    `json:"proxyId"`
		ID      int    `json:"id"`
		Field   struct {
			Pos  int    `json:"pos"`
			Name string `json:"name"`
		} `json:"field"`
		ProcessNum int               `json:"processNum"`
		Tags       map[string]string `json:"tags"`
		Value      struct {
			Type  string `json:"type"`
			Value any    `json:"value"`
		} `json:"value"`
	}
	if err := json.Unmarshal([]byte(st.JSON(CSVFilter{})), &jobjs); err != nil {
		t.Fatal(err)
	}
	if len(jobjs) != len(rows) {
		t.Fatalf("%d JSON objects, %d CSV lines", len(jobjs), len(rows))
	}
	srv := jobjs[2] // web, raw, then app's first server
	if srv[0].ObjType != "Server" || srv[0].ProxyID != 3 || srv[0].ID != 1 || srv[0].Value.Value != "app" ||
		srv[0].Tags["origin"] != "Key" || srv[0].Tags["nature"] != "Name" || srv[0].Tags["scope"] != "Service" {
		t.Errorf("the first server's first field: %+v", srv[0])
	}
	for _, o := range jobjs {
		for _, fd := range o {
			if fd.Tags["origin"] == "" || fd.Tags["nature"] == "" || fd.Tags["scope"] == "" {
				t.Errorf("%s %d.%d %s: tags %v", fd.ObjType, fd.ProxyID, fd.ID, fd.Field.Name, fd.Tags)
			}
			if _, num := fd.Value.Value.(float64); num == (fd.Value.Type == "str") {
				t.Errorf("%s %s: a %s as %T", fd.ObjType, fd.Field.Name, fd.Value.Type, fd.Value.Value)
			}
		}
	}
	if got := st.Typed(CSVFilter{Types: TypeServer, SID: 2}); !strings.HasPrefix(got, "S.3.2.0.pxname.1:KNS:str:app\n") || strings.Contains(got, "S.3.1.") {
		t.Errorf("typed, server 2 only:\n%s", got)
	}
}

func TestInfoForms(t *testing.T) {
	fields := []Field{{0, "Name", "POS:str", "luaedge"}, {8, "Uptime_sec", "MDP:u32", "90"}}
	if got := InfoTyped(fields); got != "0.Name.1:POS:str:luaedge\n8.Uptime_sec.1:MDP:u32:90\n" {
		t.Errorf("typed: %q", got)
	}
	want := `[{"field":{"pos":0,"name":"Name"},"processNum":1,"tags":{"origin":"Product","nature":"Output","scope":"Service"},"value":{"type":"str","value":"luaedge"}},` +
		`{"field":{"pos":8,"name":"Uptime_sec"},"processNum":1,"tags":{"origin":"Metric","nature":"Duration","scope":"Process"},"value":{"type":"u32","value":90}}]` + "\n"
	if got := InfoJSON(fields); got != want {
		t.Errorf("json:\n%s\nwant\n%s", got, want)
	}
}
