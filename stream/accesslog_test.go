package stream

import "testing"

func TestUserTraceback(t *testing.T) {
	in := "app.lua:3: boom\nstack traceback:\n\tapp.lua:3: in function 'fn'\n\tluaedge/actions.lua:249: in function 'service'\n\tluaedge/actions.lua:285: in function <luaedge/actions.lua:268>\n\t[C]: in function 'xpcall'\n\tluaedge/bridge.lua:355: in function <luaedge/bridge.lua:347>"
	want := "app.lua:3: boom\nstack traceback:\n\tapp.lua:3: in function 'fn'"
	if got := userTraceback(in); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := userTraceback("no traceback"); got != "no traceback" {
		t.Errorf("got %q", got)
	}
}
