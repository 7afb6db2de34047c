package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// cacheOrigin is a server that counts the requests of each path and
// answers as the path says (cacheable, no-store, Set-Cookie, Vary...).
type cacheOrigin struct {
	mu   sync.Mutex
	hits map[string]int
}

func (o *cacheOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.hits[r.Method+" "+r.URL.Path]++
	n := o.hits[r.Method+" "+r.URL.Path]
	o.mu.Unlock()
	h := w.Header()
	h.Set("cache-control", "max-age=60")
	body := fmt.Sprintf("%s n=%d", r.URL.Path, n)
	switch {
	case strings.HasSuffix(r.URL.Path, "/nostore"):
		h.Set("cache-control", "no-store")
	case strings.HasSuffix(r.URL.Path, "/cookie"):
		h.Set("set-cookie", "a=b")
	case strings.HasSuffix(r.URL.Path, "/short"):
		h.Set("cache-control", "max-age=1")
	case strings.HasSuffix(r.URL.Path, "/cut"):
		// A server that closes in its body: 10 bytes of 100.
		h.Set("content-length", "100")
		h.Set("content-type", "text/plain")
		w.WriteHeader(200)
		io.WriteString(w, (body + "..........")[:10])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	case strings.HasSuffix(r.URL.Path, "/big"):
		body += strings.Repeat("x", 3000)
	case strings.HasSuffix(r.URL.Path, "/vary"):
		h.Set("vary", "accept-encoding")
		if strings.Contains(r.Header.Get("accept-encoding"), "gzip") {
			h.Set("content-encoding", "gzip") // not really: the test reads it as is
			body = "gz " + body
		}
	}
	h.Set("content-type", "text/plain")
	io.WriteString(w, body)
}

// cacheGet sends a request with its own client (connection) and returns
// the status, body, x-hit and whether an age field came.
func cacheGet(t *testing.T, method, url, ae string) (status int, body, hit string, age bool) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if ae != "" {
		req.Header.Set("accept-encoding", ae)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("x-hit"), resp.Header.Get("age") != ""
}

// A cache section with cache-use and cache-store, on HAProxy 2.6 and on
// luaedge: what is stored, what is served with an age, Vary, HEAD,
// expiry, unsafe methods and the size limit.
func TestHAProxyCfgCache(t *testing.T) {
	needBinary(t)
	origin := &cacheOrigin{hits: map[string]int{}}
	srv := httptest.NewServer(origin)
	defer srv.Close()
	sc := hcScenario{
		name: "cache",
		cfg: hcHTTPDefaults + `
cache c
    total-max-size 4
    max-object-size 2048
    max-age 60
    process-vary on

frontend f
    bind 127.0.0.1:@PORT@
    http-request cache-use c
    http-response cache-store c
    http-response set-header x-hit %[res.cache_hit]
    http-response set-header x-cache-name %[res.cache_name] if { res.cache_hit }
    default_backend b

backend b
    server s1 @ORIGIN@
`,
	}
	check := func(who string, addr func(string) string) {
		base := "http://" + addr("") + "/" + who
		expect := func(method, path, ae string, wantBody, wantHit string, wantAge bool) {
			t.Helper()
			status, body, hit, age := cacheGet(t, method, base+path, ae)
			if status != 200 || body != wantBody || hit != wantHit || age != wantAge {
				t.Errorf("%s: %s %s (ae %q): %d %q x-hit %q age %v; want 200 %q x-hit %q age %v", who, method, path, ae, status, body, hit, age, wantBody, wantHit, wantAge)
			}
		}
		p := "/" + who
		expect("GET", "/fresh", "", p+"/fresh n=1", "0", false)
		expect("GET", "/fresh", "", p+"/fresh n=1", "1", true) // another connection
		expect("HEAD", "/fresh", "", "", "1", true)
		expect("GET", "/nostore", "", p+"/nostore n=1", "0", false)
		expect("GET", "/nostore", "", p+"/nostore n=2", "0", false)
		expect("GET", "/cookie", "", p+"/cookie n=1", "0", false)
		expect("GET", "/cookie", "", p+"/cookie n=1", "1", true)
		expect("GET", "/big", "", p+"/big n=1"+strings.Repeat("x", 3000), "0", false)
		expect("GET", "/big", "", p+"/big n=2"+strings.Repeat("x", 3000), "0", false)
		expect("GET", "/vary", "gzip", "gz "+p+"/vary n=1", "0", false)
		expect("GET", "/vary", "gzip", "gz "+p+"/vary n=1", "1", true)
		expect("GET", "/vary", "identity", p+"/vary n=2", "0", false)
		expect("GET", "/vary", "identity", p+"/vary n=2", "1", true)
		expect("POST", "/post", "", p+"/post n=1", "0", false)
		expect("POST", "/post", "", p+"/post n=2", "0", false)
		expect("GET", "/post", "", p+"/post n=1", "0", false)
		expect("GET", "/post", "", p+"/post n=1", "1", true)
		expect("POST", "/post", "", p+"/post n=3", "0", false) // drops the stored GET
		expect("GET", "/post", "", p+"/post n=2", "0", false)
		// A response cut by its server's close is not stored: the next
		// client, on another connection, gets the server's next answer.
		cacheGet(t, "GET", base+"/cut", "")
		if _, body, hit, _ := cacheGet(t, "GET", base+"/cut", ""); !strings.HasPrefix(p+"/cut n=2", body) || body == "" || hit != "0" {
			t.Errorf("%s: GET /cut after a cut answer: %q x-hit %q; want the start of %q, x-hit 0", who, body, hit, p+"/cut n=2")
		}
		expect("GET", "/short", "", p+"/short n=1", "0", false)
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, body, _, _ := cacheGet(t, "GET", base+"/short", "")
			if body == p+"/short n=2" {
				break
			}
			if body != p+"/short n=1" || time.Now().After(deadline) {
				t.Errorf("%s: /short after its max-age: %q, want %q", who, body, p+"/short n=2")
				break
			}
			time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
		}
	}
	hcCheckBoth(t, sc, map[string]string{"ORIGIN": strings.TrimPrefix(srv.URL, "http://")}, check)
}
