package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestPortalExample runs the example service: the printed link signs a
// browser in to the portal of shop/acme, and the printed token calls the
// API, which creates a webhook the portal then lists.
func TestPortalExample(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, "", pw); pw.Close() }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("the service did not stop")
		}
	})
	// Read the three printed lines.
	buf := make([]byte, 4096)
	for !strings.Contains(out.String(), "curl") {
		n, err := pr.Read(buf)
		if err != nil {
			t.Fatalf("reading the output: %v (%q)", err, out.String())
		}
		out.Write(buf[:n])
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	link := regexp.MustCompile(`portal link for shop/acme \(valid 1 h\): (\S+)`).FindStringSubmatch(out.String())
	token := regexp.MustCompile(`API token for shop/acme: (\S+)`).FindStringSubmatch(out.String())
	if link == nil || token == nil {
		t.Fatalf("output:\n%s", out.String())
	}
	base := "http://" + ln.Addr().String()

	// The API, with the customer's token: create a webhook.
	body := `{"code":"erp","name":"ERP","endpoint":"https://erp.example.com/hooks","events":["order_paid"]}`
	req, _ := http.NewRequest(http.MethodPost, base+"/api/scopes/shop/acme/webhooks", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token[1])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST webhooks: %d %s", resp.StatusCode, b)
	}
	// Another scope is out of the token's reach.
	req, _ = http.NewRequest(http.MethodGet, base+"/api/scopes/shop/other/webhooks", nil)
	req.Header.Set("Authorization", "Bearer "+token[1])
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("another scope with the token: %v %v", resp.Status, err)
	} else {
		resp.Body.Close()
	}
	var list struct {
		Data []struct{ Code string } `json:"data"`
	}
	req, _ = http.NewRequest(http.MethodGet, base+"/api/scopes/shop/acme/webhooks", nil)
	req.Header.Set("Authorization", "Bearer "+token[1])
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_ = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
	}
	if len(list.Data) != 1 || list.Data[0].Code != "erp" {
		t.Errorf("GET webhooks: %+v", list)
	}

	// The portal, opened with the link as a browser would: it lists it.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err = browser.Get(link[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = browser.Get(base + "/webhooks/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "ERP") || !strings.Contains(string(page), "Acme Shop webhooks") {
		t.Errorf("the portal: %d\n%.2000s", resp.StatusCode, page)
	}
	// The service's own page offers a fresh link.
	resp, err = http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	home, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(home), "/webhooks/?token=") {
		t.Errorf("home page: %s", home)
	}
}
