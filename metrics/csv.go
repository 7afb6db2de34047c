package metrics

import (
	"strconv"
	"strings"
)

// The CSV of HAProxy's "show stat" (and of its stats page's ;csv): the
// fields of HAProxy 2.6 up to agg_check_status, in its order, every line
// ending with a comma as HAProxy's do. Scripts find a field by its name
// in the header; a field luaedge has no value for is empty, as HAProxy
// leaves those that do not apply.
var csvFields = strings.Split("pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,"+
	"status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,"+
	"check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,"+
	"req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,"+
	"agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,"+
	"cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,"+
	"src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,"+
	"agg_server_status,agg_server_check_status,agg_check_status", ",")

var csvIndex = func() map[string]int {
	m := make(map[string]int, len(csvFields))
	for i, f := range csvFields {
		m[f] = i
	}
	return m
}()

// Object types of show stat's filter (HAProxy's).
const (
	TypeFrontend = 1
	TypeBackend  = 2
	TypeServer   = 4
)

// CSVFilter selects the lines of show stat as HAProxy's arguments do:
// Proxy is a frontend's or backend's name or iid ("" or "-1": all),
// Types a sum of Type* (0 or -1: all), SID a server's id (0 or -1: all).
type CSVFilter struct {
	Proxy string
	Types int
	SID   int
}

func (f CSVFilter) proxy(name string, iid int) bool {
	return f.Proxy == "" || f.Proxy == "-1" || f.Proxy == name || f.Proxy == strconv.Itoa(iid)
}

func (f CSVFilter) has(t int) bool { return f.Types <= 0 || f.Types&t != 0 }

// csvLine is one line being filled.
type csvLine []string

func (l csvLine) set(field string, v string) { l[csvIndex[field]] = v }
func (l csvLine) num(field string, v int64)  { l[csvIndex[field]] = strconv.FormatInt(v, 10) }

func (l csvLine) classes(r map[string]int64) {
	for _, c := range ClassNames {
		l.num("hrsp_"+c, r[c])
	}
}

// CSV returns the header and the lines f selects: for each frontend its
// FRONTEND line; for each backend its servers' lines, then its BACKEND
// line.
func (s *Stats) CSV(f CSVFilter) string {
	var b strings.Builder
	b.WriteString("# ")
	b.WriteString(strings.Join(csvFields, ","))
	b.WriteString(",\n")
	for _, l := range s.statLines(f) {
		b.WriteString(strings.Join(l.vals, ","))
		b.WriteString(",\n")
	}
	return b.String()
}

// statLine is one object of show stat: its type ('F', 'B' or 'S', as the
// typed form writes it), its proxy's iid, its own id (a server's sid, 0
// for the others) and its fields' values, "" where it has none.
type statLine struct {
	obj   byte
	proxy int
	id    int
	vals  csvLine
}

// statLines are the objects f selects, in CSV's order.
func (s *Stats) statLines(f CSVFilter) []statLine {
	var out []statLine
	for _, fe := range s.Frontends {
		if !f.proxy(fe.Name, fe.ID) || !f.has(TypeFrontend) || f.SID > 0 {
			continue
		}
		l := make(csvLine, len(csvFields))
		l.set("pxname", fe.Name)
		l.set("svname", "FRONTEND")
		l.num("scur", fe.Sessions.Current)
		l.num("smax", fe.Sessions.Max)
		l.num("stot", fe.Sessions.Total)
		l.num("bin", fe.BytesIn)
		l.num("bout", fe.BytesOut)
		l.num("dreq", 0)
		l.num("dresp", 0)
		l.num("ereq", fe.RequestErrors)
		l.set("status", fe.Status)
		l.num("pid", 1)
		l.num("iid", int64(fe.ID))
		l.num("sid", 0)
		l.num("type", 0)
		l.num("rate", fe.ConnRate)
		l.num("rate_max", fe.ConnRateMax)
		l.set("mode", fe.Mode)
		l.num("conn_rate", fe.ConnRate)
		l.num("conn_rate_max", fe.ConnRateMax)
		l.num("conn_tot", fe.Sessions.Total)
		if fe.Mode != "tcp" {
			l.classes(fe.Responses)
			l.num("req_rate", fe.ReqRate)
			l.num("req_rate_max", fe.ReqRateMax)
			l.num("req_tot", fe.Requests)
		}
		out = append(out, statLine{'F', fe.ID, 0, l})
	}
	for _, be := range s.Backends {
		if !f.proxy(be.Name, be.ID) {
			continue
		}
		for _, sv := range be.Servers {
			if !f.has(TypeServer) || (f.SID > 0 && f.SID != sv.ID) {
				continue
			}
			l := make(csvLine, len(csvFields))
			l.set("pxname", be.Name)
			l.set("svname", sv.Name)
			l.num("qcur", 0)
			l.num("qmax", 0)
			l.num("scur", sv.Sessions.Current)
			l.num("smax", sv.Sessions.Max)
			if sv.Sessions.Limit > 0 {
				l.num("slim", int64(sv.Sessions.Limit))
			}
			l.num("stot", sv.Sessions.Total)
			l.num("econ", sv.ConnectErrors)
			l.num("wretr", sv.Retries)
			l.num("wredis", sv.Redispatches)
			l.set("status", sv.Status)
			l.num("weight", int64(sv.Weight))
			l.num("uweight", int64(sv.Weight))
			act, bck := int64(1), int64(0)
			if sv.Backup {
				act, bck = 0, 1
			}
			l.num("act", act)
			l.num("bck", bck)
			l.num("lastchg", sv.LastChange)
			l.num("pid", 1)
			l.num("iid", int64(be.ID))
			l.num("sid", int64(sv.ID))
			l.num("lbtot", sv.Sessions.Total)
			l.num("type", 2)
			l.num("rate", sv.Rate)
			l.num("rate_max", sv.RateMax)
			if c := sv.Check; c.Configured {
				l.num("chkfail", c.Failures)
				l.num("chkdown", c.Downs)
				l.set("check_status", c.Status)
				if c.Code != 0 {
					l.num("check_code", int64(c.Code))
				}
				if c.Status != "" {
					l.num("check_duration", int64(c.Duration))
				}
				l.num("check_rise", int64(c.Rise))
				l.num("check_fall", int64(c.Fall))
				l.num("check_health", int64(c.Health))
			}
			l.set("addr", sv.Address)
			out = append(out, statLine{'S', be.ID, sv.ID, l})
		}
		if !f.has(TypeBackend) || f.SID > 0 {
			continue
		}
		l := make(csvLine, len(csvFields))
		l.set("pxname", be.Name)
		l.set("svname", "BACKEND")
		l.num("qcur", 0)
		l.num("qmax", 0)
		l.num("scur", be.Sessions.Current)
		l.num("smax", be.Sessions.Max)
		l.num("stot", be.Sessions.Total)
		l.num("bin", be.BytesIn)
		l.num("bout", be.BytesOut)
		l.num("dreq", 0)
		l.num("dresp", 0)
		l.num("econ", be.ConnectErrors)
		l.num("eresp", be.ResponseErrors)
		l.num("wretr", be.Retries)
		l.num("wredis", be.Redispatches)
		l.set("status", be.Status)
		l.num("weight", int64(be.Weight))
		l.num("uweight", int64(be.Weight))
		l.num("act", int64(be.ActiveServers))
		l.num("bck", int64(be.BackupServers))
		l.num("pid", 1)
		l.num("iid", int64(be.ID))
		l.num("sid", 0)
		l.num("lbtot", be.Requests)
		l.num("type", 1)
		l.num("rate", be.Rate)
		l.num("rate_max", be.RateMax)
		l.classes(be.Responses)
		l.num("req_tot", be.Requests)
		l.num("rtime", int64(be.ResponseTimeAvg))
		l.set("algo", be.Algo)
		out = append(out, statLine{'B', be.ID, 0, l})
	}
	return out
}
