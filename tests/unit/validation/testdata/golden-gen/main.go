// Command golden-gen prints how Go's standard library parses the inputs in ../corpus.json, so that
// certkeeper.validation's ports (gonet.py, gomail.py) can be compared with Go without Go installed.
// Run: cd golden-gen && go run . < ../corpus.json > ../go_golden.json
package main

import (
	"encoding/json"
	"net"
	"net/mail"
	"net/url"
	"os"
)

type corpus struct {
	IP       []string `json:"ip"`
	CIDR     []string `json:"cidr"`
	HostPort []string `json:"hostport"`
	URL      []string `json:"url"`
	Mail     []string `json:"mail"`
}

type result struct {
	Input string `json:"input"`
	OK    bool   `json:"ok"`
	Value string `json:"value,omitempty"`
	Error string `json:"error,omitempty"`
}

func main() {
	var in corpus
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	out := map[string][]result{}
	for _, s := range in.IP {
		ip := net.ParseIP(s)
		r := result{Input: s, OK: ip != nil}
		if ip != nil {
			r.Value = ip.String()
		}
		out["ip"] = append(out["ip"], r)
	}
	for _, s := range in.CIDR {
		_, _, err := net.ParseCIDR(s)
		out["cidr"] = append(out["cidr"], result{Input: s, OK: err == nil})
	}
	for _, s := range in.HostPort {
		host, port, err := net.SplitHostPort(s)
		r := result{Input: s, OK: err == nil, Value: host + "|" + port}
		if err != nil {
			r.Value = ""
			r.Error = err.(*net.AddrError).Err
		}
		out["hostport"] = append(out["hostport"], r)
	}
	for _, s := range in.URL {
		u, err := url.ParseRequestURI(s)
		r := result{Input: s, OK: err == nil}
		if err == nil {
			r.Value = u.Host
		}
		out["url"] = append(out["url"], r)
	}
	for _, s := range in.Mail {
		a, err := mail.ParseAddress(s)
		r := result{Input: s, OK: err == nil}
		if err == nil {
			r.Value = a.Name + "|" + a.Address
		} else {
			r.Error = err.Error()
		}
		out["mail"] = append(out["mail"], r)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}
