package backend

import "testing"

// The values HAProxy 2.6 gives these servers with dynamic-cookie-key
// "k3y" (read from its Set-Cookie).
func TestDynamicCookie(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1:18081", "2817e2e4603cc1e4"},
		{"[::1]:18082", "d422cf8312db1931"},
		{"app.example:80", ""},
	} {
		if got := DynamicCookie("k3y", tc.addr); got != tc.want || (tc.want != "" && len(got) != 16) {
			t.Errorf("%s: %q, want %q", tc.addr, got, tc.want)
		}
	}
	if DynamicCookie("k3y", "127.0.0.1:8001") == DynamicCookie("k3y", "127.0.0.1:8002") || DynamicCookie("a", "127.0.0.1:1") == DynamicCookie("b", "127.0.0.1:1") {
		t.Error("the port and the key do not change the value")
	}
}
