package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestServeAdminNeedsAPassword(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	res := f.run("serve-admin", "--addr", "127.0.0.1:0")
	if res.code != exitUsage || !strings.Contains(res.stderr, envAdminPassword) {
		t.Fatalf("serve-admin without a password: %s", res)
	}
}

func TestServeAdminServesTheUIBehindBasicAuth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "--db", f.db, "serve-admin", "--addr", addr, "--prefix", "/admin")
	cmd.Dir = f.dir
	cmd.Env = append(append([]string{}, f.env...), envAdminPassword+"=open-sesame-42")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "admin UI on http://"+addr+"/admin/") {
		t.Fatalf("first line %q, %v", line, err)
	}
	get := func(user, pass string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/admin/deliveries", nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("", ""); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d", code)
	}
	if code, _ := get("admin", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", code)
	}
	if code, body := get("admin", "open-sesame-42"); code != http.StatusOK || !strings.Contains(body, "Deliveries") {
		t.Errorf("with credentials: %d", code)
	}
	// SIGTERM stops it cleanly.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v", err)
	}
}
