package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// Email sends messages over SMTP, with STARTTLS unless switched off.
type Email struct {
	Host     string
	Port     int
	User     string
	Password string
	StartTLS bool
	From     string
	To       []string
	// TLSConfig is for tests with their own CA; nil verifies against the system roots.
	TLSConfig *tls.Config
}

// Name says where messages go, never with the password.
func (e *Email) Name() string { return "e-mail to " + strings.Join(e.To, ", ") }

// Send delivers m as one plain-text e-mail.
func (e *Email) Send(ctx context.Context, m Message) error {
	addr := net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to SMTP server %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, e.Host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("SMTP server %s: %w", addr, err)
	}
	defer c.Close()
	if err := e.session(c, m); err != nil {
		return fmt.Errorf("SMTP server %s: %w", addr, err)
	}
	return c.Quit()
}

func (e *Email) session(c *smtp.Client, m Message) error {
	if e.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("the server does not offer STARTTLS (set smtp_starttls = false only for a server on a trusted network)")
		}
		cfg := e.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{ServerName: e.Host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if e.User != "" {
		if err := c.Auth(smtp.PlainAuth("", e.User, e.Password, e.Host)); err != nil {
			return fmt.Errorf("login as %s: %w", e.User, err)
		}
	}
	if err := c.Mail(e.From); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, to := range e.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(e.compose(m)); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	return w.Close()
}

func (e *Email) compose(m Message) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", e.From)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(e.To, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	// The DATA writer dot-stuffs lines and the header says 8bit: only line ends need care.
	for line := range strings.Lines(m.Text) {
		b.WriteString(strings.TrimRight(line, "\r\n") + "\r\n")
	}
	return b.Bytes()
}

// Webhook posts messages as JSON that Slack and Teams incoming webhooks accept: a text field, plus
// the events as structured fields for other receivers.
type Webhook struct {
	URL    string
	Client *http.Client
}

// Name never shows the URL: whoever knows it can post.
func (w *Webhook) Name() string { return "webhook" }

type webhookBody struct {
	Text    string  `json:"text"`
	Subject string  `json:"subject"`
	Total   int     `json:"total"`
	Events  []Event `json:"events"`
}

// Send posts m; any 2xx answer is success.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	body, err := json.Marshal(webhookBody{Text: m.Subject + "\n" + m.Text, Subject: m.Subject, Total: m.Total, Events: m.Events})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: the URL is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err // a *url.Error: Redact removes the URL before anything logs it
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
