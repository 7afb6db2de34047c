package haproxycfg

import (
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/luaedge/luaedge/config"
)

// luaQuote writes s as a Lua string literal.
func luaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 32 || c == 127:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// scope is where an expression is compiled: the frontend (its name for
// fe_name), the backend when in one, and the phase.
type scope struct {
	fe, be string
	res    bool // an http-response / tcp-response rule
	// tcpMode: the frontend is in mode tcp.
	tcpMode bool
	phase   string // of the rule: http-req, http-res, tcp-req, tcp-res
	dir     string
	g       *gen
	caps    config.Capture // the frontend's capture slots (%hr, %hs)
}

// fetchDef is a fetch of the configuration language: how to read it in
// Lua (one value, and, for an ACL, every value), and the match method
// an ACL uses without -m.
type fetchDef struct {
	one   func(sc scope, args []string) string
	multi func(sc scope, args []string) string // nil: single valued
	match string
	nargs [2]int // min, max arguments
}

// requestOnly are the fetches of the request line, headers and body,
// which HAProxy no longer has in the response phase: there they find
// nothing (the method stays).
var requestOnly = map[string]bool{
	"path": true, "pathq": true, "url": true, "base": true, "query": true, "req.hdr": true, "req.fhdr": true, "req.hdr_cnt": true,
	"url_param": true, "urlp": true, "cook": true, "req.cook": true, "cook_cnt": true, "req.cook_cnt": true, "cook_val": true, "req.cook_val": true, "hdr_ip": true, "req.hdr_ip": true, "req.body": true, "req.len": true, "req_len": true, "req.payload": true, "req.payload_lv": true,
	"req.ssl_hello_type": true, "req_ssl_hello_type": true, "req.ssl_sni": true, "req_ssl_sni": true, "req.ssl_ver": true, "req_ssl_ver": true,
	"req.ssl_ec_ext": true, "req.ssl_st_ext": true, "req.ssl_alpn": true,
	"http_auth": true, "http_auth_group": true, "http_auth_type": true, "http_auth_user": true, "http_auth_pass": true, "http_auth_bearer": true,
}

// responseAlias are the fetches that read the response in the response
// phase.
var responseAlias = map[string]string{"hdr": "res.hdr", "hdr_cnt": "res.hdr_cnt"}

// resLenCall is how a compiled condition reads res.len (see gen.grows).
const resLenCall = "txn.f:res_len()"

func call(method string, args ...string) string {
	return fmt.Sprintf("txn.f:%s(%s)", method, strings.Join(args, ", "))
}

// lit writes an argument: integers as numbers, the rest as strings.
func lit(a string) string {
	if n, err := strconv.ParseInt(a, 10, 64); err == nil {
		return intLit(n)
	}
	return luaQuote(a)
}

// intLit writes n as a Lua integer exactly: a number within 2^53 of 0,
// where doubles are exact, else an int64_t literal (LuaJIT's LL), as
// the converters hold integers beyond.
func intLit(n int64) string {
	const exact = 1 << 53
	switch {
	case n >= -exact && n <= exact:
		return strconv.FormatInt(n, 10)
	case n == math.MinInt64:
		return "(-9223372036854775807LL - 1)"
	case n < 0:
		return "(" + strconv.FormatInt(n, 10) + "LL)"
	}
	return strconv.FormatInt(n, 10) + "LL"
}

// readInt64 reads s as HAProxy's read_int64 reads an integer argument:
// an optional sign, then digits only, clamped to the 64-bit limits.
func readInt64(s string) (int64, bool) {
	digits := strings.TrimLeft(s, "+-")
	if len(s)-len(digits) > 1 || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, _ := strconv.ParseInt(s, 10, 64) // out of range: ParseInt gives the limit
	return n, true
}

func lits(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = lit(a)
	}
	return out
}

func simple(method, match string) fetchDef {
	return fetchDef{one: func(scope, []string) string { return call(method) }, match: match}
}

// dnFetch is ssl_c_s_dn or ssl_c_i_dn: ([entry[,occ[,format]]]).
func dnFetch(method string) fetchDef {
	return fetchDef{one: func(_ scope, a []string) string { return call(method, lits(a)...) }, match: "str", nargs: [2]int{0, 3}}
}

func hdrFetch(method string, res, full bool) fetchDef {
	return fetchDef{
		one: func(_ scope, a []string) string { return call(method, lits(a)...) },
		multi: func(_ scope, a []string) string {
			if len(a) > 1 {
				return ""
			}
			return fmt.Sprintf("H.hdrs(txn, %s, %v, %v)", luaQuote(strings.ToLower(a[0])), res, full)
		},
		match: "str", nargs: [2]int{1, 2},
	}
}

var fetches = map[string]fetchDef{
	// Basic authentication against a userlist section; without checks,
	// the Authorization field's parts.
	"http_auth": {one: func(sc scope, a []string) string {
		return fmt.Sprintf("H.auth_ok(txn, %s)", sc.g.userlistRef(a[0]))
	}, match: "bool", nargs: [2]int{1, 1}},
	"http_auth_group": {
		one: func(sc scope, a []string) string {
			return fmt.Sprintf("H.auth_user(txn, %s)", sc.g.userlistRef(a[0]))
		},
		// In an ACL, the groups of the user: the patterns are groups.
		multi: func(sc scope, a []string) string {
			return fmt.Sprintf("H.auth_groups(txn, %s)", sc.g.userlistRef(a[0]))
		},
		match: "str", nargs: [2]int{1, 1},
	},
	"http_auth_type": {one: func(scope, []string) string { return "H.auth_part(txn, 1)" }, match: "str"},
	"http_auth_user": {one: func(scope, []string) string { return "H.auth_part(txn, 2)" }, match: "str"},
	"http_auth_pass": {one: func(scope, []string) string { return "H.auth_part(txn, 3)" }, match: "str"},
	"http_auth_bearer": {one: func(_ scope, a []string) string {
		return fmt.Sprintf("H.auth_bearer(txn, %s)", luaQuote(strings.ToLower(append(a, "authorization")[0])))
	}, match: "str", nargs: [2]int{0, 1}},
	"path":           simple("path", "str"),
	"pathq":          simple("pathq", "str"),
	"url":            simple("url", "str"),
	"base":           simple("base", "str"),
	"query":          simple("query", "str"),
	"method":         {one: func(scope, []string) string { return "H.method(txn)" }, match: "str"},
	"src":            simple("src", "ip"),
	"dst":            simple("dst", "ip"),
	"src_port":       simple("src_port", "int"),
	"dst_port":       simple("dst_port", "int"),
	"req.ver":        simple("req_ver", "str"),
	"req_ver":        simple("req_ver", "str"),
	"req.body":       simple("req_body", "str"),
	"req.len":        simple("req_len", "int"),
	"req.payload":    {one: func(_ scope, a []string) string { return call("req_payload", a...) }, match: "bin", nargs: [2]int{2, 2}},
	"req.payload_lv": {one: payloadLV, match: "bin", nargs: [2]int{2, 3}},
	"req_len":        simple("req_len", "int"),
	"res.len":        simple("res_len", "int"),
	// The client's first bytes in mode tcp (proto/tlshello reads the
	// TLS ones); HAProxy's old names too.
	"req.ssl_hello_type": simple("req_ssl_hello_type", "int"),
	"req_ssl_hello_type": simple("req_ssl_hello_type", "int"),
	"req.ssl_sni":        simple("req_ssl_sni", "str"),
	"req_ssl_sni":        simple("req_ssl_sni", "str"),
	"req.ssl_ver":        simple("req_ssl_ver", "ver"),
	"req_ssl_ver":        simple("req_ssl_ver", "ver"),
	"req.ssl_ec_ext":     simple("req_ssl_ec_ext", "bool"),
	"req.ssl_st_ext":     simple("req_ssl_st_ext", "int"),
	"req.ssl_alpn": {
		one: func(scope, []string) string { return call("req_ssl_alpn") },
		// An ACL matches every name, as HAProxy iterates over them.
		multi: func(scope, []string) string { return call("_ssl_alpn_list") },
		match: "str",
	},
	"wait_end":        simple("wait_end", "bool"),
	"status":          simple("status", "int"),
	"srv_id":          simple("srv_id", "int"),
	"srv_name":        simple("srv_name", "str"),
	"res.cache_hit":   simple("res_cache_hit", "bool"),
	"res.cache_name":  simple("res_cache_name", "str"),
	"ssl_fc":          simple("ssl_fc", "bool"),
	"ssl_fc_sni":      simple("ssl_fc_sni", "str"),
	"ssl_fc_protocol": simple("ssl_fc_protocol", "str"),
	"ssl_fc_cipher":   simple("ssl_fc_cipher", "str"),
	"ssl_fc_alpn":     simple("ssl_fc_alpn", "str"),
	"ssl_c_used":      simple("ssl_c_used", "bool"),
	"ssl_c_verify":    simple("ssl_c_verify", "int"),
	"ssl_c_err":       simple("ssl_c_err", "int"),
	"ssl_c_ca_err":    simple("ssl_c_ca_err", "int"),
	"ssl_c_s_dn":      dnFetch("ssl_c_s_dn"),
	"ssl_c_i_dn":      dnFetch("ssl_c_i_dn"),
	"ssl_c_serial":    simple("ssl_c_serial", "str"),
	"ssl_c_sha1":      simple("ssl_c_sha1", "str"),
	"ssl_c_der":       simple("ssl_c_der", "str"),
	"ssl_c_notbefore": simple("ssl_c_notbefore", "str"),
	"ssl_c_notafter":  simple("ssl_c_notafter", "str"),
	"ssl_c_version":   simple("ssl_c_version", "int"),
	"ssl_c_sig_alg":   simple("ssl_c_sig_alg", "str"),
	"ssl_c_key_alg":   simple("ssl_c_key_alg", "str"),
	"fc_pp_authority": simple("fc_pp_authority", "str"),
	"fc_pp_unique_id": simple("fc_pp_unique_id", "str"),
	"fc_pp_tlv":       {one: func(_ scope, a []string) string { return call("fc_pp_tlv", lits(a)...) }, match: "str", nargs: [2]int{1, 1}},
	"scheme":          simple("scheme", "str"),
	"hdr":             hdrFetch("req_hdr", false, false),
	"req.hdr":         hdrFetch("req_hdr", false, false),
	"req.fhdr":        hdrFetch("req_fhdr", false, true),
	"res.hdr":         hdrFetch("res_hdr", true, false),
	"shdr":            hdrFetch("res_hdr", true, false),
	"res.fhdr":        hdrFetch("res_fhdr", true, true),
	"hdr_cnt":         {one: func(_ scope, a []string) string { return call("req_hdr_cnt", lits(a)...) }, match: "int", nargs: [2]int{1, 1}},
	"req.hdr_cnt":     {one: func(_ scope, a []string) string { return call("req_hdr_cnt", lits(a)...) }, match: "int", nargs: [2]int{1, 1}},
	"res.hdr_cnt":     {one: func(_ scope, a []string) string { return call("res_hdr_cnt", lits(a)...) }, match: "int", nargs: [2]int{1, 1}},
	"var":             {one: func(_ scope, a []string) string { return fmt.Sprintf("txn:get_var(%s)", luaQuote(a[0])) }, match: "str", nargs: [2]int{1, 1}},
	"url_param":       {one: func(_ scope, a []string) string { return fmt.Sprintf("H.urlp(txn, %s)", luaQuote(a[0])) }, match: "str", nargs: [2]int{1, 1}},
	"urlp":            {one: func(_ scope, a []string) string { return fmt.Sprintf("H.urlp(txn, %s)", luaQuote(a[0])) }, match: "str", nargs: [2]int{1, 1}},
	"cook":            cookFetch("H.cook", "str"),
	"req.cook":        cookFetch("H.cook", "str"),
	"cook_cnt":        cookFetch("H.cook_cnt", "int"),
	"req.cook_cnt":    cookFetch("H.cook_cnt", "int"),
	"cook_val":        cookFetch("H.cook_val", "int"),
	"req.cook_val":    cookFetch("H.cook_val", "int"),
	"hdr_ip":          ipFetch(),
	"req.hdr_ip":      ipFetch(),
	"res.cook":        {one: func(_ scope, a []string) string { return fmt.Sprintf("H.scook(txn, %s)", luaQuote(a[0])) }, match: "str", nargs: [2]int{1, 1}},
	"scook":           {one: func(_ scope, a []string) string { return fmt.Sprintf("H.scook(txn, %s)", luaQuote(a[0])) }, match: "str", nargs: [2]int{1, 1}},
	"fe_name":         {one: func(sc scope, _ []string) string { return luaQuote(sc.fe) }, match: "str"},
	"be_name":         {one: func(sc scope, _ []string) string { return "H.st(txn).be" }, match: "str"},
	"str":             {one: func(_ scope, a []string) string { return luaQuote(strings.Join(a, "")) }, match: "str", nargs: [2]int{0, 1}},
	"bin":             {one: binFetch, match: "str", nargs: [2]int{1, 1}},
	"int": {one: func(_ scope, a []string) string {
		n, _ := readInt64(a[0]) // checked in expr
		return intLit(n)
	}, match: "int", nargs: [2]int{1, 1}},
	"bool":         {one: func(_ scope, a []string) string { return fmt.Sprintf("(%s ~= 0)", a[0]) }, match: "bool", nargs: [2]int{1, 1}},
	"always_true":  {one: func(scope, []string) string { return "true" }, match: "bool"},
	"always_false": {one: func(scope, []string) string { return "false" }, match: "bool"},
}

// cookFetch is a fetch of the request's cookies ([name]): without a name,
// every cookie.
func cookFetch(fn, match string) fetchDef {
	return fetchDef{one: func(_ scope, a []string) string {
		name := "nil"
		if len(a) == 1 && a[0] != "" {
			name = luaQuote(a[0])
		}
		return fmt.Sprintf("%s(txn, %s)", fn, name)
	}, match: match, nargs: [2]int{0, 1}}
}

// ipFetch is hdr_ip(name[,occ]): the header's value read as an address.
func ipFetch() fetchDef {
	return fetchDef{one: func(_ scope, a []string) string {
		return fmt.Sprintf("H.ip_of(%s)", call("req_hdr", lits(a)...))
	}, match: "ip", nargs: [2]int{1, 2}}
}

// checkPayloadArgs checks the arguments of req.payload(offset,length)
// and req.payload_lv(offset1,length[,offset2]) as HAProxy does, and
// writes the first two as Lua numbers ("+1" is not one).
func checkPayloadArgs(name string, a []string) error {
	var n [3]int64
	for i, s := range a {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("fetch '%s': argument %d '%s' is not an integer", name, i+1, s)
		}
		n[i] = v
		if i < 2 {
			a[i] = strconv.FormatInt(v, 10)
		}
	}
	if name == "req.payload" {
		return nil
	}
	switch {
	case n[0] < 0:
		return fmt.Errorf("fetch '%s': the offset of the length must be positive", name)
	case n[1] <= 0:
		return fmt.Errorf("fetch '%s': the length's size must be > 0", name)
	case n[0]+n[1]+n[2] < 0:
		return fmt.Errorf("fetch '%s': the block's offset is before the buffer", name)
	}
	return nil
}

// payloadLV is req.payload_lv(offset1,length[,offset2]): offset2 is
// passed as a string, whose sign makes it relative.
func payloadLV(_ scope, a []string) string {
	return call("req_payload_lv", append(a[:2:2], quoteAll(a[2:])...)...)
}

// binFetch is bin(HEX): the bytes, a constant (expr checks the digits).
func binFetch(_ scope, a []string) string {
	b, _ := hex.DecodeString(a[0])
	return luaQuote(string(b))
}

// moreFetches are the fetches of captures, of the unique ID and uuid.
var moreFetches = map[string]fetchDef{
	"capture.req.hdr": {one: func(_ scope, a []string) string { return call("capture_req_hdr", a[0]) }, match: "str", nargs: [2]int{1, 1}},
	"capture.res.hdr": {one: func(_ scope, a []string) string { return call("capture_res_hdr", a[0]) }, match: "str", nargs: [2]int{1, 1}},
	"unique-id":       {one: func(sc scope, _ []string) string { return "H.uid(txn, UID[" + luaQuote(sc.fe) + "])" }, match: "str"},
	"uuid":            {one: func(_ scope, a []string) string { return call("uuid", lits(a)...) }, match: "str", nargs: [2]int{0, 1}},
	// The request line as received, in both phases and the log.
	"capture.req.method": simple("capture_req_method", "str"),
	"capture.req.uri":    simple("capture_req_uri", "str"),
	"capture.req.ver":    simple("capture_req_ver", "str"),
	"capture.res.ver":    simple("capture_res_ver", "str"),
	"res.ver":            simple("res_ver", "str"),
	"resp_ver":           simple("res_ver", "str"),
}

// uniqueIDVar reads the request's unique ID (unique-id-format) as it is:
// nil until made (H.uid).
const uniqueIDVar = `txn:get_var("txn.__hc_unique_id")`

// stickFetch reads sc_*, scN_* and src_* fetches, which luaedge has under
// the same names.
func stickFetch(name string) (fetchDef, bool) {
	if !(strings.HasPrefix(name, "sc_") || strings.HasPrefix(name, "sc0_") || strings.HasPrefix(name, "sc1_") || strings.HasPrefix(name, "sc2_") || strings.HasPrefix(name, "src_")) {
		return fetchDef{}, false
	}
	return fetchDef{one: func(_ scope, a []string) string { return call(name, lits(a)...) }, match: "int", nargs: [2]int{0, 2}}, true
}

// converters luaedge has (docs/lua-api.md, Converters).
var converters = map[string]bool{
	"lower": true, "upper": true, "length": true, "hex": true, "hex2i": true, "cut_crlf": true, "bytes": true,
	"field": true, "word": true, "ltrim": true, "rtrim": true, "url_dec": true, "url_enc": true, "base64": true,
	"b64dec": true, "ub64enc": true, "ub64dec": true, "sha1": true, "sha2": true, "crc32": true, "crc32c": true,
	"djb2": true, "sdbm": true, "wt6": true, "xxh32": true, "xxh64": true, "xxh3": true, "json": true, "regsub": true, "ipmask": true, "map": true,
	"map_str": true, "map_beg": true, "map_sub": true, "map_dir": true, "map_dom": true, "map_end": true,
	"map_reg": true, "map_int": true, "map_ip": true, "map_str_int": true, "map_beg_int": true,
	"map_sub_int": true, "map_dir_int": true, "map_dom_int": true, "map_end_int": true, "map_reg_int": true,
	"map_int_int": true, "map_ip_int": true, "map_regm": true, "map_regm_int": true,
	// The stick table converters read an entry without tracking it.
	"table_bytes_in_rate": true, "table_bytes_out_rate": true, "table_conn_cnt": true, "table_conn_cur": true,
	"table_conn_rate": true, "table_expire": true, "table_gpc": true, "table_gpc0": true, "table_gpc0_rate": true,
	"table_gpc1": true, "table_gpc1_rate": true, "table_gpc_rate": true, "table_gpt": true, "table_gpt0": true,
	"table_http_err_cnt": true, "table_http_err_rate": true, "table_http_fail_cnt": true, "table_http_fail_rate": true,
	"table_http_req_cnt": true, "table_http_req_rate": true, "table_idle": true, "table_kbytes_in": true,
	"table_kbytes_out": true, "table_server_id": true, "table_sess_cnt": true, "table_sess_rate": true,
	"table_trackers": true,
	"json_query":     true, "digest": true, "be2dec": true, "be2hex": true, "iif": true, "in_table": true,
	"neg": true, "cpl": true, "bool": true, "not": true, "even": true, "odd": true,
}

// binFetches give binary samples (HAProxy's SMP_T_BIN).
var binFetches = map[string]bool{
	"req.body": true, "bin": true, "req.payload": true, "req.payload_lv": true,
	"ssl_c_der": true, "ssl_c_sha1": true, "ssl_c_serial": true,
}

// binOut are the converters that give binary samples.
var binOut = map[string]bool{"bytes": true, "b64dec": true, "ub64dec": true, "digest": true, "hmac": true, "sha1": true, "sha2": true}

// strIn are the converters that take a string: a binary sample is cast
// to one first, which, in HAProxy, ends it at its first NUL byte.
var strIn = map[string]bool{
	"lower": true, "upper": true, "length": true, "hex2i": true, "cut_crlf": true, "field": true, "word": true,
	"ltrim": true, "rtrim": true, "url_dec": true, "url_enc": true, "b64dec": true, "ub64dec": true, "json": true,
	"json_query": true, "regsub": true, "concat": true, "add_item": true, "strcmp": true,
	"map": true, "map_str": true, "map_beg": true, "map_sub": true, "map_dir": true, "map_dom": true, "map_end": true,
	"map_reg": true, "map_regm": true, "map_str_int": true, "map_beg_int": true, "map_sub_int": true,
	"map_dir_int": true, "map_dom_int": true, "map_end_int": true, "map_reg_int": true, "map_regm_int": true,
}

// convMatch is how an ACL matches the result of converters that do not
// give strings.
var convMatch = map[string]string{
	"length": "int", "hex2i": "int", "crc32": "int", "crc32c": "int", "djb2": "int", "sdbm": "int", "wt6": "int",
	"xxh32": "int", "xxh64": "int", "xxh3": "int", "neg": "int", "cpl": "int", "in_table": "bool", "bool": "bool", "not": "bool", "even": "bool", "odd": "bool",
}

// declareACLFile adds f to the ACL files of the configuration, once.
func (g *gen) declareACLFile(f config.ACLFile) {
	if !slices.Contains(g.aclDecls, f) {
		g.aclDecls = append(g.aclDecls, f)
	}
}

// declareMapFile adds f to the map files of the configuration, once.
func (g *gen) declareMapFile(f config.MapFile) {
	if !slices.Contains(g.mapDecls, f) {
		g.mapDecls = append(g.mapDecls, f)
	}
}

// mapMethod is the match method of a map converter: map_beg and
// map_beg_int match with beg, map_int and map_int_int with int, map
// with str.
func mapMethod(conv string) string {
	m, ok := strings.CutPrefix(conv, "map_")
	if !ok {
		return "str"
	}
	if method, _, found := strings.Cut(m, "_"); found {
		return method
	}
	return m
}

// mapInts reports whether a map converter gives integers: map_beg_int,
// not map_int, whose keys are integers.
func mapInts(conv string) bool {
	m, _ := strings.CutPrefix(conv, "map_")
	_, value, _ := strings.Cut(m, "_")
	return value == "int"
}

// checkTableArg checks the table a table_* converter names: the first
// argument, after the element's index for the arrays' (table_gpc(idx,t)).
func (g *gen) checkTableArg(conv string, args []string) error {
	i := 0
	if conv == "table_gpc" || conv == "table_gpc_rate" || conv == "table_gpt" {
		i = 1
	}
	if len(args) <= i {
		return fmt.Errorf("converter '%s': a table name is needed", conv)
	}
	if g.tables[args[i]] == nil {
		return fmt.Errorf("converter '%s': no stick table '%s' (a frontend's or backend's stick-table)", conv, args[i])
	}
	return nil
}

// callParts splits "name(a,b)" into name and arguments.
func callParts(s string) (string, []string, error) {
	i := strings.IndexByte(s, '(')
	if i < 0 {
		return s, nil, nil
	}
	if !strings.HasSuffix(s, ")") {
		return "", nil, fmt.Errorf("'%s': missing ')'", s)
	}
	inner := s[i+1 : len(s)-1]
	if inner == "" {
		return s[:i], nil, nil
	}
	args := splitTop(inner, ',')
	for i, a := range args {
		args[i] = unquoteArg(a)
	}
	return s[:i], args, nil
}

// unquoteArg reads an argument as HAProxy's argument parser does: quotes
// are removed (nothing is escaped inside '...'), and outside single
// quotes a backslash escapes a backslash, a space, a quote, or writes \r,
// \n, \t; any other backslash stays (a regex's \d).
func unquoteArg(a string) string {
	if !strings.ContainsAny(a, "'\"\\") {
		return a
	}
	var b strings.Builder
	var quote byte
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case (c == '\'' || c == '"') && (quote == 0 || quote == c):
			if quote == 0 {
				quote = c
			} else {
				quote = 0
			}
		case c == '\\' && quote != '\'' && i+1 < len(a):
			switch n := a[i+1]; n {
			case '\\', ' ', '"', '\'':
				b.WriteByte(n)
				i++
			case 'r', 'n', 't':
				b.WriteByte(map[byte]byte{'r': '\r', 'n': '\n', 't': '\t'}[n])
				i++
			default:
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// expr compiles a sample expression ("fetch(args),conv1,conv2(args)")
// into a Lua expression of txn. multi, for an ACL, asks for the list of
// every value of a fetch that has several; then list is true and the
// expression is a list.
func (sc scope) expr(s string, multi bool) (code string, match string, list bool, err error) {
	parts := splitTop(s, ',')
	name, args, err := callParts(parts[0])
	if err != nil {
		return "", "", false, err
	}
	var def fetchDef
	var ok bool
	switch {
	case strings.HasPrefix(name, "lua."):
		fn := strings.TrimPrefix(name, "lua.")
		// By index: a name may hold "-" or "." (lua.my-hash).
		def, ok = fetchDef{one: func(_ scope, a []string) string {
			return fmt.Sprintf("txn.f[%s](%s)", luaQuote("lua."+fn), strings.Join(append([]string{"txn.f"}, quoteAll(a)...), ", "))
		}, match: "str", nargs: [2]int{0, 100}}, true
	case sc.res && requestOnly[name] && !multi:
		return "", "", false, fmt.Errorf("fetch '%s' reads the request, which is not available in the response phase", name)
	case sc.res && requestOnly[name]:
		// In an ACL HAProxy accepts it, and it matches nothing.
		if len(parts) > 1 {
			return "nil", "str", false, nil
		}
		def, ok = fetchDef{one: func(scope, []string) string { return "nil" }, match: fetches[name].match, nargs: fetches[name].nargs}, true
	default:
		if alias, ok := responseAlias[name]; ok && sc.res {
			name = alias
		}
		def, ok = fetches[name]
		if !ok {
			def, ok = moreFetches[name]
		}
		if !ok {
			def, ok = stickFetch(name)
		}
	}
	if !ok {
		return "", "", false, fmt.Errorf("fetch '%s' is not supported by luaedge", name)
	}
	if len(args) < def.nargs[0] || len(args) > def.nargs[1] {
		return "", "", false, fmt.Errorf("fetch '%s': wrong number of arguments (%d)", name, len(args))
	}
	if name == "req.payload" || name == "req.payload_lv" {
		if err := checkPayloadArgs(name, args); err != nil {
			return "", "", false, err
		}
	}
	if name == "int" {
		if _, ok := readInt64(args[0]); !ok {
			return "", "", false, fmt.Errorf("fetch 'int': '%s' is not an integer", args[0])
		}
	}
	if name == "bin" {
		if _, err := hex.DecodeString(args[0]); err != nil {
			return "", "", false, fmt.Errorf("fetch 'bin': '%s' is not hex digits", args[0])
		}
	}
	match = def.match
	if multi && def.multi != nil && len(parts) == 1 {
		if code = def.multi(sc, args); code != "" {
			return code, match, true, nil
		}
	}
	code = def.one(sc, args)
	bin := binFetches[name]
	for _, c := range parts[1:] {
		cname, cargs, err := callParts(c)
		if err != nil {
			return "", "", false, err
		}
		if bin && strIn[cname] {
			code = "H.bin2str(" + code + ")"
		}
		bin = binOut[cname]
		switch {
		case strings.HasPrefix(cname, "lua."):
			code = fmt.Sprintf("H.conv(txn.c, %s, %s)", luaQuote("lua_"+strings.TrimPrefix(cname, "lua.")), strings.Join(append([]string{code}, quoteAll(cargs)...), ", "))
		case converters[cname]:
			if strings.HasPrefix(cname, "map") && len(cargs) > 0 {
				cargs[0] = resolvePath(sc.dir, cargs[0])
				sc.g.declareMapFile(config.MapFile{Path: cargs[0], Method: mapMethod(cname), Ints: mapInts(cname)})
			}
			if cname == "xxh32" || cname == "xxh64" || cname == "xxh3" {
				if err := checkSeed(cname, cargs); err != nil {
					return "", "", false, err
				}
			}
			if strings.HasPrefix(cname, "table_") || cname == "in_table" {
				if err := sc.g.checkTableArg(cname, cargs); err != nil {
					return "", "", false, err
				}
			}
			// No sample stops the expression, as in HAProxy: the
			// converter is not called (TXN.c's would read nil as "0").
			code = fmt.Sprintf("H.conv(txn.c, %s, %s)", luaQuote(cname), strings.Join(append([]string{code}, lits(cargs)...), ", "))
			match = "str"
			if strings.HasSuffix(cname, "_int") || strings.HasPrefix(cname, "table_") {
				match = "int"
			}
			if m, ok := convMatch[cname]; ok {
				match = m
			}
		case cname == "strcmp" || cname == "secure_memcmp":
			// The value against a variable's; no variable, no sample.
			if len(cargs) != 1 || !strings.Contains(cargs[0], ".") {
				return "", "", false, fmt.Errorf("converter '%s' takes a variable name", cname)
			}
			code = fmt.Sprintf("H.%s(%s, txn:get_var(%s))", cname, code, luaQuote(cargs[0]))
			match = "int"
			if cname == "secure_memcmp" {
				match = "bool"
			}
		case cname == "add_item":
			// add_item(delim,[var][,suffix]): suffix is needed without var.
			if len(cargs) < 2 || len(cargs) > 3 || cargs[1] == "" && (len(cargs) < 3 || cargs[2] == "") {
				return "", "", false, fmt.Errorf("converter 'add_item' wants (delimiter,variable[,suffix]) or (delimiter,,suffix)")
			}
			v := "nil"
			if cargs[1] != "" {
				v = fmt.Sprintf("txn:get_var(%s)", luaQuote(cargs[1]))
			}
			suffix := ""
			if len(cargs) == 3 {
				suffix = cargs[2]
			}
			code = fmt.Sprintf("H.add_item(%s, %s, %s, %s)", code, luaQuote(cargs[0]), v, luaQuote(suffix))
			match = "str"
		case cname == "hmac":
			// hmac(algorithm,key): the base64 key, or a variable holding it.
			if len(cargs) != 2 {
				return "", "", false, fmt.Errorf("converter 'hmac' takes an algorithm and a key")
			}
			key := luaQuote(cargs[1])
			if strings.Contains(cargs[1], ".") {
				key = fmt.Sprintf("txn:get_var(%s)", luaQuote(cargs[1]))
			}
			code = fmt.Sprintf("H.hmac(txn.c, %s, %s, %s)", code, luaQuote(cargs[0]), key)
			match = "str"
		case arith[cname]:
			if len(cargs) != 1 {
				return "", "", false, fmt.Errorf("converter '%s' takes one argument", cname)
			}
			v, err := sc.operand(cargs[0])
			if err != nil {
				return "", "", false, err
			}
			code = fmt.Sprintf("H.arith(txn.c, %s, %q, %s)", code, cname, v)
			match = "int"
		case cname == "concat":
			var pieces []string
			for i, a := range cargs {
				if i == 1 && a != "" {
					v, err := sc.operand(a)
					if err != nil {
						return "", "", false, err
					}
					pieces = append(pieces, "H.S("+v+")")
				} else if a != "" {
					pieces = append(pieces, luaQuote(a))
				}
			}
			code = "H.cat(" + strings.Join(append([]string{code}, pieces...), ", ") + ")"
			match = "str"
		default:
			return "", "", false, fmt.Errorf("converter '%s' is not supported by luaedge", cname)
		}
	}
	return code, match, false, nil
}

// arith are the converters whose operand is an integer or a variable.
var arith = map[string]bool{"add": true, "sub": true, "mul": true, "div": true, "mod": true, "and": true, "or": true, "xor": true}

// checkSeed checks the optional seed of xxh32, xxh64 or xxh3, an
// integer (clamped to 64 bits), at load as HAProxy does.
func checkSeed(conv string, args []string) error {
	if len(args) > 1 {
		return fmt.Errorf("converter '%s' takes at most one argument (a seed)", conv)
	}
	if len(args) == 1 {
		if _, ok := readInt64(args[0]); !ok {
			return fmt.Errorf("converter '%s': seed '%s' is not an integer", conv, args[0])
		}
	}
	return nil
}

// operand reads an arithmetic argument: an integer (clamped to 64 bits,
// as HAProxy reads it) or a variable name.
func (sc scope) operand(a string) (string, error) {
	if n, ok := readInt64(a); ok {
		return intLit(n), nil
	}
	if varNameRE.MatchString(a) {
		return fmt.Sprintf("txn:get_var(%s)", luaQuote(a)), nil
	}
	return "", fmt.Errorf("'%s': want a number or a variable (SCOPE.NAME: letters, digits, '_' and '.')", a)
}

// varNameRE is what HAProxy takes as a variable's name where a converter
// names one: a scope, then letters, digits, '_' and '.'.
var varNameRE = regexp.MustCompile(`^(proc|sess|txn|req|res)\.[A-Za-z0-9_.]+$`)

func quoteAll(a []string) []string {
	out := make([]string, len(a))
	for i, x := range a {
		out[i] = luaQuote(x)
	}
	return out
}

// logVar compiles the log-format variable name (%ci, %HP...) into a Lua
// expression of txn, as HAProxy computes it for a rule ("" when luaedge
// does not have it).
func (sc scope) logVar(name string) string {
	switch name {
	case "ci":
		return "txn.f:src()"
	case "cp":
		return "txn.f:src_port()"
	case "fi":
		return "txn.f:dst()"
	case "fp":
		return "txn.f:dst_port()"
	case "f", "ft", "fb":
		return luaQuote(sc.fe)
	case "b":
		return "(H.st(txn).be or " + luaQuote(sc.fe) + ")"
	case "s":
		return `"<NOSRV>"` // no server is chosen while rules run
	// The request line as received, whatever rules rewrote since, as
	// HAProxy reads its copy of it (the access log's), its bytes
	// escaped as there.
	case "HM":
		return "H.LINE(txn.f:capture_req_method())"
	case "HU":
		return "H.LINE(txn.f:capture_req_target())"
	case "HP":
		return `H.LINE(H.S(txn.f:capture_req_target()):match("^[^?]*"))`
	case "HQ":
		return `H.LINE(H.S(txn.f:capture_req_target()):match("%?.*$"))`
	case "HPO":
		// The path without its query (capture.req.uri's).
		return `H.LINE(H.S(txn.f:capture_req_uri()):match("^[^?]*"))`
	case "HV":
		return `"HTTP/" .. H.S(txn.f:req_ver())`
	case "r":
		return `H.LINE(H.S(txn.f:capture_req_method()) .. " " .. H.S(txn.f:capture_req_target()) .. " HTTP/" .. H.S(txn.f:req_ver()))`
	case "ST":
		return "(txn.f:status() or -1)"
	case "Ts":
		return "core.now().sec"
	case "t", "tr":
		return "H.date(false)"
	case "T", "trg":
		return "H.date(true)"
	case "ms":
		return `string.format("%03d", math.floor(core.now().usec / 1000))`
	case "ID":
		return uniqueIDVar
	case "hr", "hs", "hrl", "hsl":
		n, fetch := len(sc.caps.Request), "capture_req_hdr"
		if name[1] == 's' {
			n, fetch = len(sc.caps.Response), "capture_res_hdr"
		}
		if n == 0 {
			return `""`
		}
		var parts []string
		for i := 0; i < n; i++ {
			v := fmt.Sprintf("txn.f:%s(%d)", fetch, i)
			if len(name) == 3 {
				parts = append(parts, fmt.Sprintf(`(%s or "-")`, v))
			} else {
				parts = append(parts, "H.S("+v+")")
			}
		}
		if len(name) == 3 {
			return strings.Join(parts, ` .. " " .. `)
		}
		return `"{" .. ` + strings.Join(parts, ` .. "|" .. `) + ` .. "}"`
	}
	return ""
}

// format compiles a log-format string ("text %[expr] %ci text") into a
// Lua string expression.
func (sc scope) format(s string) (string, error) { return sc.formatAs(s, false) }

// formatHTTP is format for the strings of HTTP rules (headers, the
// request line, redirects, return's body and headers, maps, the unique
// id): as HAProxy's, the control characters of a %[...]'s value (all but
// HTAB) and DEL are written %XX there.
func (sc scope) formatHTTP(s string) (string, error) { return sc.formatAs(s, true) }

func (sc scope) formatAs(s string, http bool) (string, error) {
	var parts []string
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			parts = append(parts, luaQuote(text.String()))
			text.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			text.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			text.WriteByte('%')
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '[' {
			end, depth := -1, 0
			for j := i + 2; j < len(s); j++ {
				if s[j] == '[' {
					depth++
				} else if s[j] == ']' {
					if depth == 0 {
						end = j
						break
					}
					depth--
				}
			}
			if end < 0 {
				return "", fmt.Errorf("'%s': missing ']'", s)
			}
			code, _, _, err := sc.expr(s[i+2:end], false)
			if err != nil {
				return "", err
			}
			flush()
			if http {
				parts = append(parts, "H.SE("+code+")")
			} else {
				parts = append(parts, "H.S("+code+")")
			}
			i = end
			continue
		}
		// %ci, %{+Q}HP...: a log-format variable.
		j, quote := i+1, false
		if j < len(s) && s[j] == '{' {
			end := strings.IndexByte(s[j:], '}')
			if end < 0 {
				return "", fmt.Errorf("'%s': unclosed %%{", s)
			}
			quote = strings.Contains(s[j:j+end], "+Q")
			j += end + 1
		}
		k := j
		for k < len(s) && (s[k] >= 'a' && s[k] <= 'z' || s[k] >= 'A' && s[k] <= 'Z') {
			k++
		}
		code := sc.logVar(s[j:k])
		if code == "" {
			return "", fmt.Errorf("'%s': log-format variable %%%s is not supported by luaedge in rules", s, s[j:k])
		}
		flush()
		code = "H.S(" + code + ")"
		if quote {
			code = `'"' .. ` + code + ` .. '"'`
		}
		parts = append(parts, code)
		i = k - 1
	}
	flush()
	if len(parts) == 0 {
		return `""`, nil
	}
	return strings.Join(parts, " .. "), nil
}

// predefined are HAProxy's predefined ACLs, as ACL words.
var predefined = map[string][]string{
	"TRUE":           {"always_true"},
	"FALSE":          {"always_false"},
	"LOCALHOST":      {"src", "127.0.0.1/8", "::1"},
	"HTTP":           {"always_true"},
	"HTTP_1.0":       {"req.ver", "1.0"},
	"HTTP_1.1":       {"req.ver", "1.1"},
	"HTTP_2.0":       {"req.ver", "2.0"},
	"HTTP_CONTENT":   {"hdr_val(content-length)", "gt", "0"},
	"HTTP_URL_ABS":   {"url_reg", "^[^/:]*://"},
	"HTTP_URL_SLASH": {"url_beg", "/"},
	"HTTP_URL_STAR":  {"url", "*"},
	"METH_CONNECT":   {"method", "CONNECT"},
	"METH_DELETE":    {"method", "DELETE"},
	"METH_GET":       {"method", "GET", "HEAD"},
	"METH_HEAD":      {"method", "HEAD"},
	"METH_OPTIONS":   {"method", "OPTIONS"},
	"METH_POST":      {"method", "POST"},
	"METH_PUT":       {"method", "PUT"},
	"METH_TRACE":     {"method", "TRACE"},
	"REQ_CONTENT":    {"req.len", "gt", "0"},
	"WAIT_END":       {"wait_end"},
}

var matchers = map[string]bool{"str": true, "beg": true, "end": true, "sub": true, "reg": true, "dir": true, "dom": true, "len": true, "found": true, "bool": true, "int": true, "ip": true, "bin": true}

// acl compiles the words of one acl line (criterion, flags, patterns)
// into a Lua boolean expression of txn.
func (sc scope) acl(w []string) (string, error) {
	crit := w[0]
	name, _, err := callParts(splitTop(crit, ',')[0])
	if err != nil {
		return "", err
	}
	match := ""
	// path_beg, hdr_sub(host), url_reg...: a fetch and a match method.
	if _, known := fetches[name]; !known && !strings.HasPrefix(name, "lua.") {
		if _, stick := stickFetch(name); !stick {
			if i := strings.LastIndexByte(name, '_'); i > 0 {
				base, suffix := name[:i], name[i+1:]
				if base == "hdr" || base == "req.hdr" || base == "res.hdr" || base == "shdr" {
					if suffix == "val" {
						suffix = "int"
					}
				}
				if _, ok := fetches[base]; ok && matchers[suffix] {
					crit = base + strings.TrimPrefix(crit, name)
					match = suffix
				}
			}
		}
	}
	icase := false
	var pats, files, filePats []string
	rest := w[1:]
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") && len(rest[0]) > 1 {
		flag := rest[0]
		rest = rest[1:]
		switch flag {
		case "-i":
			icase = true
		case "-m":
			if len(rest) == 0 || !matchers[rest[0]] {
				return "", fmt.Errorf("-m: want one of str, beg, end, sub, reg, dir, dom, len, found, bool, int, ip, bin")
			}
			match, rest = rest[0], rest[1:]
		case "-f":
			if len(rest) == 0 {
				return "", fmt.Errorf("-f: a file is needed")
			}
			p := resolvePath(sc.dir, rest[0])
			data, err := os.ReadFile(p)
			if err != nil {
				return "", fmt.Errorf("-f: %v", err)
			}
			files = append(files, p)
			for _, line := range strings.Split(string(data), "\n") {
				line = strings.TrimSpace(line)
				if line != "" && !strings.HasPrefix(line, "#") {
					filePats = append(filePats, line)
				}
			}
			rest = rest[1:]
		case "--":
			goto patterns
		case "-n", "-u":
		default:
			if _, err := strconv.Atoi(flag); err == nil {
				rest = append([]string{flag}, rest...)
				goto patterns
			}
			return "", fmt.Errorf("ACL flag '%s' is not supported by luaedge", flag)
		}
	}
patterns:
	pats = append(pats, rest...)
	code, defMatch, list, err := sc.expr(crit, true)
	if err != nil {
		return "", err
	}
	if match == "" {
		match = defMatch
	}
	// The files' patterns are matched as they are now, shared by every
	// core and changed by add-acl, del-acl and the runtime API, when the
	// match method is one the shared index has; otherwise they are
	// compiled into the rules, and the runtime API says it cannot change
	// them.
	if len(files) > 0 {
		if dynamicMatch[match] && !icase {
			for _, f := range files {
				sc.g.declareACLFile(config.ACLFile{Path: f, Method: match})
			}
		} else {
			how := "-m " + match
			if icase {
				how = "-i"
			}
			for _, f := range files {
				if sc.g.aclFiles[f] {
					return "", fmt.Errorf("-f %s: an ACL file add-acl or del-acl changes is matched with -m str, beg, end, sub, dir, dom, reg, int or ip, without -i, by luaedge", f)
				}
				sc.g.declareACLFile(config.ACLFile{Path: f, Fixed: "an ACL matches it with " + how + ", whose patterns luaedge compiles into the rules"})
			}
			pats = append(filePats, pats...)
			files = nil
		}
	}
	if match == "ver" {
		// req.ssl_ver's patterns are versions ("3.1", "3.1:3.3"), which
		// HAProxy matches as integers, major<<16 | minor.
		var err error
		if pats, err = dottedPatterns(pats); err != nil {
			return "", err
		}
		match = "int"
	}
	var table string
	switch match {
	case "found", "bool":
		table = "nil"
	case "int", "len":
		t, err := intRanges(pats)
		if err != nil {
			return "", err
		}
		table = t
	case "ip":
		var nets []string
		for _, p := range pats {
			nets = append(nets, "H.net("+luaQuote(p)+")")
		}
		table = "{" + strings.Join(nets, ", ") + "}"
	case "bin":
		// Hex digits, matched as the bytes they write.
		var q []string
		for _, p := range pats {
			b, err := hex.DecodeString(p)
			if err != nil {
				return "", fmt.Errorf("-m bin: '%s' is not hex digits", p)
			}
			q = append(q, luaQuote(string(b)))
		}
		table = "{" + strings.Join(q, ", ") + "}"
	case "reg":
		var res []string
		for _, p := range pats {
			res = append(res, fmt.Sprintf("H.regex(%s, %v)", luaQuote(p), !icase))
		}
		table = "{" + strings.Join(res, ", ") + "}"
	default:
		var q []string
		for _, p := range pats {
			if icase {
				p = strings.ToLower(p)
			}
			q = append(q, luaQuote(p))
		}
		table = "{" + strings.Join(q, ", ") + "}"
	}
	if (match == "found" || match == "bool") && len(pats)+len(files) > 0 {
		return "", fmt.Errorf("-m %s takes no pattern", match)
	}
	if match != "found" && match != "bool" && len(pats)+len(files) == 0 {
		return "", fmt.Errorf("'%s': no pattern to match", strings.Join(w, " "))
	}
	pv := table
	if table != "nil" {
		pv = sc.g.constant(table)
	}
	m := "H.M[" + luaQuote(match) + "]"
	if len(files) > 0 {
		static := "nil"
		if len(pats) > 0 {
			static = m
		}
		return fmt.Sprintf("H.acl_files(%s, Map[%s], %s, %v, %s, %s, %v)", code, luaQuote(match), sc.g.constant("{"+strings.Join(quoteAll(files), ", ")+"}"), list, static, pv, icase), nil
	}
	if list {
		return fmt.Sprintf("H.any(%s, %s, %s, %v)", code, m, pv, icase), nil
	}
	return fmt.Sprintf("%s(%s, %s, %v)", m, code, pv, icase), nil
}

// dynamicMatch are the match methods of the ACL files matched as they
// are now (core.match_acl's).
var dynamicMatch = map[string]bool{"str": true, "beg": true, "end": true, "sub": true, "dir": true, "dom": true, "reg": true, "int": true, "ip": true}

// dottedPatterns writes version patterns (MAJOR[.MINOR], ranges with ':'
// or '-', and the operators' operands) as the integers they stand for.
func dottedPatterns(pats []string) ([]string, error) {
	dotted := func(v string) (string, error) {
		major, minor, _ := strings.Cut(v, ".")
		a, err := strconv.Atoi(major)
		b := 0
		if err == nil && minor != "" {
			b, err = strconv.Atoi(minor)
		}
		if err != nil || a < 0 || b < 0 || b > 0xffff {
			return "", fmt.Errorf("'%s' is not a dotted version", v)
		}
		return strconv.Itoa(a<<16 | b), nil
	}
	out := make([]string, len(pats))
	for i, p := range pats {
		switch p {
		case "eq", "ge", "gt", "le", "lt":
			out[i] = p
			continue
		}
		lo, hi, isRange := strings.Cut(p, ":")
		if !isRange {
			lo, hi, isRange = strings.Cut(p, "-")
		}
		var err error
		if lo != "" {
			if lo, err = dotted(lo); err != nil {
				return nil, err
			}
		}
		if hi != "" {
			if hi, err = dotted(hi); err != nil {
				return nil, err
			}
		}
		out[i] = lo
		if isRange {
			out[i] = lo + ":" + hi
		}
	}
	return out, nil
}

// intRanges writes integer patterns ("5", "1:9", "gt 3", "le 10") as a
// Lua table of {lo, hi}.
func intRanges(pats []string) (string, error) {
	var out []string
	for i := 0; i < len(pats); i++ {
		p := pats[i]
		lo, hi := "nil", "nil"
		switch p {
		case "eq", "ge", "gt", "le", "lt":
			if i+1 >= len(pats) {
				return "", fmt.Errorf("'%s' needs a number", p)
			}
			n, err := strconv.ParseInt(pats[i+1], 10, 64)
			if err != nil {
				return "", fmt.Errorf("'%s %s': not a number", p, pats[i+1])
			}
			i++
			switch p {
			case "eq":
				lo, hi = intLit(n), intLit(n)
			case "ge":
				lo = intLit(n)
			case "gt":
				if n == math.MaxInt64 {
					lo, hi = "1", "0" // nothing is greater
				} else {
					lo = intLit(n + 1)
				}
			case "le":
				hi = intLit(n)
			case "lt":
				if n == math.MinInt64 {
					lo, hi = "1", "0"
				} else {
					hi = intLit(n - 1)
				}
			}
		default:
			a, b, isRange := strings.Cut(p, ":")
			if !isRange {
				b = a
			}
			if a != "" {
				n, err := strconv.ParseInt(a, 10, 64)
				if err != nil {
					return "", fmt.Errorf("'%s': not an integer pattern", p)
				}
				lo = intLit(n)
			}
			if b != "" {
				n, err := strconv.ParseInt(b, 10, 64)
				if err != nil {
					return "", fmt.Errorf("'%s': not an integer pattern", p)
				}
				hi = intLit(n)
			}
		}
		out = append(out, "{"+lo+", "+hi+"}")
	}
	return "{" + strings.Join(out, ", ") + "}", nil
}

// cond compiles a condition ("if" or "unless" and its terms) into a Lua
// boolean expression; acls are the section's named ACLs.
func (sc scope) cond(words []string, acls map[string][]rule) (string, error) {
	if len(words) == 0 {
		return "true", nil
	}
	neg, ors, err := sc.condTerms(words, acls, false)
	if err != nil {
		return "", err
	}
	var suites []string
	for _, ands := range ors {
		suites = append(suites, "("+strings.Join(ands, " and ")+")")
	}
	c := strings.Join(suites, " or ")
	if neg {
		return "not (" + c + ")", nil
	}
	return "(" + c + ")", nil
}

// cond3 compiles a condition as HAProxy evaluates it before the last run
// of the tcp-request content rules: a function of txn, hoisted, that
// returns true or false, or nil while it is undecided (ACL_TEST_MISS: a
// term did not match on a sample that may change). As HAProxy's, the
// terms of a suite stop at the first that does not pass, and an undecided
// suite makes the whole undecided unless another passes; "unless" and
// "!" leave undecided undecided. It returns the call and whether the
// condition is "unless".
func (sc scope) cond3(words []string, acls map[string][]rule) (string, bool, error) {
	neg, ors, err := sc.condTerms(words, acls, true)
	if err != nil {
		return "", false, err
	}
	sc.g.nconds++
	fn := fmt.Sprintf("COND[%d]", sc.g.nconds)
	var b strings.Builder
	fmt.Fprintf(&b, "%s = function(txn)\nlocal miss, r = false\n", fn)
	for _, ands := range ors {
		fmt.Fprintf(&b, "r = %s\nif r then return true end\nif r == nil then miss = true end\n", strings.Join(ands, " and "))
	}
	b.WriteString("if miss then return nil end\nreturn false\nend\n")
	sc.g.head.WriteString(b.String())
	return fn + "(txn)", neg, nil
}

// condTerms reads a condition's words: whether it is "unless", and its
// suites of ANDed terms, ORed. three writes each term as cond3 needs it:
// true, false or nil (undecided).
func (sc scope) condTerms(words []string, acls map[string][]rule, three bool) (bool, [][]string, error) {
	neg := words[0] == "unless"
	words = words[1:]
	if len(words) == 0 {
		return false, nil, fmt.Errorf("'%s' without a condition", map[bool]string{true: "unless", false: "if"}[neg])
	}
	var ors [][]string
	var ands []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "||" || w == "or" {
			if len(ands) == 0 {
				return false, nil, fmt.Errorf("'%s' without a term before it", w)
			}
			ors = append(ors, ands)
			ands = nil
			continue
		}
		not := false
		for strings.HasPrefix(w, "!") {
			not = !not
			w = w[1:]
			if w == "" {
				i++
				if i >= len(words) {
					return false, nil, fmt.Errorf("'!' without a term")
				}
				w = words[i]
			}
		}
		var term string
		if w == "{" {
			end := -1
			for j := i + 1; j < len(words); j++ {
				if words[j] == "}" {
					end = j
					break
				}
			}
			if end < 0 || end == i+1 {
				return false, nil, fmt.Errorf("'{' without a matching '}'")
			}
			t, err := sc.acl(words[i+1 : end])
			if err != nil {
				return false, nil, err
			}
			if three {
				t = term3(t)
			}
			term, i = t, end
		} else {
			t, err := sc.namedACL(w, acls, three)
			if err != nil {
				return false, nil, err
			}
			term = t
		}
		switch {
		case not && three:
			term = "H.not3(" + term + ")"
		case not:
			term = "not " + term
		}
		ands = append(ands, term)
	}
	if len(ands) == 0 {
		return false, nil, fmt.Errorf("the condition ends with an operator")
	}
	return neg, append(ors, ands), nil
}

// term3 is an ACL line's code as a term of cond3: the samples' may-change
// mark is cleared before it and read after.
func term3(code string) string {
	return "H.t3(txn, H.fresh(txn) and " + code + ")"
}

// growsReq reports whether compiled code reads the client's input in a
// way that may change as bytes come (a fetch of I.input_fetches), directly
// or through a named ACL.
func (g *gen) growsReq(code string) bool {
	for _, c := range reqInputCalls {
		if strings.Contains(code, c) {
			return true
		}
	}
	for fn := range g.growingReq {
		if strings.Contains(code, fn+"(txn)") {
			return true
		}
	}
	return false
}

// reqInputCalls are how compiled code calls the fetches over the client's
// input whose samples may change.
var reqInputCalls = []string{"txn.f:req_len()", "txn.f:req_payload(", "txn.f:req_payload_lv(", "txn.f:req_ssl_", "txn.f:_ssl_alpn_list(", "txn.f:wait_end()"}

// namedACL compiles a reference to a named ACL into a call of its
// function (lines of the same name are ORed), or a predefined ACL; three:
// a function that returns true, false or nil (undecided), as cond3's
// terms.
func (sc scope) namedACL(name string, acls map[string][]rule, three bool) (string, error) {
	key := fmt.Sprintf("%s\x00%s\x00%v\x00%s\x00%v", sc.fe, sc.be, sc.res, name, three)
	if fn, ok := sc.g.aclFns[key]; ok {
		return fn + "(txn)", nil
	}
	lines := acls[name]
	if lines == nil {
		if p, ok := predefined[name]; ok {
			t, err := sc.acl(p)
			if err == nil && three {
				t = term3(t)
			}
			return t, err
		}
		return "", fmt.Errorf("no ACL named '%s'", name)
	}
	var terms []string
	for _, l := range lines {
		t, err := sc.acl(l.words)
		if err != nil {
			return "", fmt.Errorf("%s: acl %s: %v", l.at, name, err)
		}
		terms = append(terms, t)
	}
	fn := fmt.Sprintf("ACL[%d]", len(sc.g.aclFns)+1)
	sc.g.aclFns[key] = fn
	body := strings.Join(terms, " or ")
	if sc.g.grows(body) {
		if sc.g.growing == nil {
			sc.g.growing = map[string]bool{}
		}
		sc.g.growing[fn] = true
	}
	if sc.g.growsReq(body) {
		if sc.g.growingReq == nil {
			sc.g.growingReq = map[string]bool{}
		}
		sc.g.growingReq[fn] = true
	}
	if !three {
		fmt.Fprintf(&sc.g.head, "%s = function(txn) return %s end -- acl %s\n", fn, body, name)
		return fn + "(txn)", nil
	}
	// The lines are ORed as the terms' suites of cond3: one that passes
	// decides, an undecided one leaves the whole undecided otherwise.
	fmt.Fprintf(&sc.g.head, "%s = function(txn) -- acl %s\nlocal miss, r = false\n", fn, name)
	for _, t := range terms {
		fmt.Fprintf(&sc.g.head, "r = %s\nif r then return true end\nif r == nil then miss = true end\n", term3(t))
	}
	sc.g.head.WriteString("if miss then return nil end\nreturn false\nend\n")
	return fn + "(txn)", nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
