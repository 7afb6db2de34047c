package lj

import (
	"strings"
	"testing"
)

// responseFields lists the last response's fields as "name: value".
func (d *requestDriver) responseFields() []string {
	s := d.last.S
	var out []string
	for i := 0; i < s.NumRFields(); i++ {
		n, v := s.RField(i)
		out = append(out, string(n)+": "+string(v))
	}
	return out
}

// A Reply's fields go out in add_header's order, names repeated where
// they were; its content-length is the body's, where the reply put one
// (else last); fields set in r.headers directly come after; a deleted
// name leaves no trace.
func TestReplyFieldOrder(t *testing.T) {
	for _, c := range []struct {
		name, code string
		want       []string
	}{
		{"add_header order", `r:add_header("x-b", "1"); r:add_header("x-a", "2"); r:add_header("X-B", "3"); r:add_header("x-b", "4")`,
			[]string{"x-b: 1", "x-a: 2", "x-b: 3", "x-b: 4", "content-length: 2"}},
		{"content-length where it was added", `r:add_header("x-a", "1"); r:add_header("content-length", "99"); r:add_header("content-type", "text/plain"); r:add_header("content-length", "7")`,
			[]string{"x-a: 1", "content-length: 2", "content-type: text/plain"}},
		{"r.headers after", `r:add_header("x-a", "1"); r:add_header("x-b", "2"); r.headers["x-a"][2] = "3"`,
			[]string{"x-a: 1", "x-b: 2", "x-a: 3", "content-length: 2"}},
		{"del_header", `r:add_header("x-a", "1"); r:add_header("x-b", "2"); r:del_header("x-a"); r:add_header("x-a", "3")`,
			[]string{"x-b: 2", "x-a: 3", "content-length: 2"}},
		{"no length on a 204", `r:set_status(204); r:add_header("content-length", "2"); r:add_header("x-a", "1")`,
			[]string{"x-a: 1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code := `core.register_action("answer", { "http-req" }, function(txn)
	local r = txn:reply()
	r:set_body("hi")
	` + c.code + `
	txn:done(r)
end)`
			d := newDriver(t, []byte(code), []string{"lua.answer"}, nil, "", false, nil)
			d.run()
			if got := d.responseFields(); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("fields %q, want %q", got, c.want)
			}
		})
	}
}
