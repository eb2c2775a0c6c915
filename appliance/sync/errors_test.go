package sync

import "testing"

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://host/gov.git":           "https://host/gov.git",
		"file:///srv/gov.git":            "file:///srv/gov.git",
		"/srv/gov.git":                   "/srv/gov.git",
		"https://user:pw@host/gov.git":   "https://user:xxxxx@host/gov.git",
		"https://TOKEN@host/gov.git":     "https://xxxxx@host/gov.git",
		"https://us er:p w@host/gov.git": "https://xxxxx@host/gov.git",
		"https://user:p%zzw@host:1/x":    "https://xxxxx@host:1/x",
		"http://a:b@c@host/x":            "http://a:xxxxx@host/x",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
