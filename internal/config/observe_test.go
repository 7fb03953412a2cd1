package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// [http] listen and [notify]: check-config refuses an unauthenticated page reachable from other
// machines, incomplete e-mail settings and unknown events, each under its key.
func TestListenAndNotifyValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra string
		want  []string // keys with a problem
	}{
		{"defaults", "", nil},
		{"off", "[http]\nlisten = \"\"\n", nil},
		{"loopback", "[http]\nlisten = \"127.0.0.1:9000\"\n", nil},
		{"localhost", "[http]\nlisten = \"localhost:9000\"\n", nil},
		{"ipv6 loopback", "[http]\nlisten = \"[::1]:9000\"\n", nil},
		{"all interfaces without auth", "[http]\nlisten = \":8765\"\n", []string{"http.listen"}},
		{"LAN without password", "[http]\nlisten = \"192.168.1.5:8765\"\nuser = \"admin\"\n", []string{"http.listen"}},
		{"LAN with auth", "[http]\nlisten = \"0.0.0.0:8765\"\nuser = \"admin\"\npassword_env = \"PW\"\n", nil},
		{"not host:port", "[http]\nlisten = \"8765\"\n", []string{"http.listen"}},
		{"email complete", "[notify]\nemail_to = [\"a@example.pl\"]\nemail_from = \"k@example.pl\"\nsmtp_host = \"smtp.example.pl\"\nsmtp_user = \"k\"\nsmtp_password_env = \"PW\"\n", nil},
		{"email without server", "[notify]\nemail_to = [\"a@example.pl\"]\n", []string{"notify.email_from", "notify.smtp_host"}},
		{"user without password", "[notify]\nsmtp_user = \"k\"\n", []string{"notify.smtp_password_env"}},
		{"bad port", "[notify]\nsmtp_port = 0\n", []string{"notify.smtp_port"}},
		{"bad webhook", "[notify]\nwebhook_url = \"hooks.slack.com/x\"\n", []string{"notify.webhook_url"}},
		{"unknown event", "[notify]\nevents = [\"rejected\", \"rejectd\"]\n", []string{"notify.events"}},
		{"zero digest", "[notify]\ndigest = \"0s\"\n", []string{"notify.digest"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range loadProblems(t, baseConfig+tc.extra) {
				got = append(got, p.Key)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problem keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotifyDefaults(t *testing.T) {
	d := Defaults()
	if d.HTTP.Listen != "127.0.0.1:8765" || d.Notify.SMTPPort != 587 || !d.Notify.SMTPStartTLS ||
		d.Notify.Digest.Minutes() != 5 || len(d.Notify.Events) != 6 {
		t.Errorf("defaults %+v %+v", d.HTTP, d.Notify)
	}
}
