package main

import (
	"io"
	"net/http"
	"testing"
)

// userlist sections, http_auth and http_auth_group ACLs, the
// http_auth_* fetches and http-request auth, on HAProxy 2.6 and on
// luaedge with the same haproxy.cfg: clear passwords and crypt(3)'s MD5,
// SHA-256 and SHA-512 hashes, groups from both sides, the 401 with its
// challenge (the section's name as realm, or the rule's).
func TestHAProxyCfgUserlistAuth(t *testing.T) {
	needBinary(t)
	sc := hcScenario{
		name: "userlist",
		cfg: hcHTTPDefaults + `
userlist L1
    group G1 users tiger,scott
    group G2 users xdb
    user tiger password $6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1
    user scott insecure-password elgato
    user xdb insecure-password hello groups G1
    user five password $5$abc$NpWuFM07dho73by7eLsedZvHTZR2wm1dTBSVyYyHBC3
    user one password $1$xyz$sWACtorN50dHGydJLAp331

frontend fe1
    bind 127.0.0.1:@PORT@
    acl ok http_auth(L1)
    acl g2 http_auth_group(L1) G2
    http-request auth unless ok
    http-request return status 200 content-type text/plain lf-string "u=%[http_auth_user] grp=%[http_auth_group(L1)] typ=%[http_auth_type] g2\n" if g2
    http-request return status 200 content-type text/plain lf-string "u=%[http_auth_user] p=%[http_auth_pass] ok\n"

frontend fe2
    bind 127.0.0.1:@PORTB@
    http-request auth realm "My Realm" if !{ http_auth(L1) }
    http-request return status 200 content-type text/plain lf-string "in bearer=%[http_auth_bearer]\n"
`,
	}
	const page = "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"
	check := func(who string, addr func(string) string) {
		for _, c := range []struct {
			front, user, pass, bearer string
			status                    int
			body, challenge           string
		}{
			{front: "", status: 401, body: page, challenge: `Basic realm="fe1"`},
			{front: "", user: "tiger", pass: "s3cret", status: 200, body: "u=tiger p=s3cret ok\n"},
			{front: "", user: "tiger", pass: "s3cret", status: 200, body: "u=tiger p=s3cret ok\n"}, // the remembered check
			{front: "", user: "tiger", pass: "bad", status: 401, body: page, challenge: `Basic realm="fe1"`},
			{front: "", user: "scott", pass: "elgato", status: 200, body: "u=scott p=elgato ok\n"},
			{front: "", user: "xdb", pass: "hello", status: 200, body: "u=xdb grp=xdb typ=Basic g2\n"},
			{front: "", user: "five", pass: "five", status: 200, body: "u=five p=five ok\n"},
			{front: "", user: "one", pass: "one", status: 200, body: "u=one p=one ok\n"},
			{front: "", user: "nobody", pass: "x", status: 401, body: page, challenge: `Basic realm="fe1"`},
			{front: "B", status: 401, body: page, challenge: `Basic realm="My Realm"`},
			{front: "B", bearer: "tok123", status: 401, body: page, challenge: `Basic realm="My Realm"`},
			{front: "B", user: "scott", pass: "elgato", status: 200, body: "in bearer=\n"},
		} {
			req, _ := http.NewRequest("GET", "http://"+addr(c.front)+"/", nil)
			if c.user != "" {
				req.SetBasicAuth(c.user, c.pass)
			}
			if c.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+c.bearer)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", who, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || string(body) != c.body || resp.Header.Get("www-authenticate") != c.challenge {
				t.Errorf("%s, front %q user %q: %d %q %q; want %d %q %q", who, c.front, c.user, resp.StatusCode, body, resp.Header.Get("www-authenticate"), c.status, c.body, c.challenge)
			}
		}
	}
	hcCheckBoth(t, sc, map[string]string{}, check)
}
