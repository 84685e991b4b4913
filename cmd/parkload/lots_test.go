package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"parkd/internal/load"
)

// TestMoreLots reads every page of a search of 250 lots, of which the
// operator runs the even ones, each with an entry and an exit gate.
func TestMoreLots(t *testing.T) {
	pages := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/v1/lots" {
			pages++
			start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
			var page struct {
				Lots []map[string]string `json:"lots"`
				Next string              `json:"next_cursor,omitempty"`
			}
			for i := start; i < min(start+100, 250); i++ {
				page.Lots = append(page.Lots, map[string]string{"id": fmt.Sprintf("lot_%03d", i)})
			}
			if start+100 < 250 {
				page.Next = strconv.Itoa(start + 100)
			}
			json.NewEncoder(w).Encode(page)
			return
		}
		lot, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/lots/"), "/gates")
		n, _ := strconv.Atoi(strings.TrimPrefix(lot, "lot_"))
		if !ok || n%2 == 1 || r.Header.Get("Authorization") != "Bearer op" {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"code":"forbidden"}`))
			return
		}
		fmt.Fprintf(w, `{"gates":[{"id":"gat_%[1]s_in","direction":"entry"},{"id":"gat_%[1]s_out","direction":"exit"}]}`, lot)
	}))
	t.Cleanup(srv.Close)
	newLoader := func(lots int, db string) *loader {
		l := &loader{c: config{lots: lots, seed: 1, db: db}, client: load.NewClient(srv.URL, 2), operatorToken: "op"}
		l.lots = []lotGates{{id: "lot_000", entryGate: "gat_lot_000_in", exitGate: "gat_lot_000_out", entryKey: "pkg_in", exitKey: "pkg_out"}}
		return l
	}

	l := newLoader(allLots, "")
	all, err := l.allLots(context.Background())
	if err != nil || len(all) != 250 || all[249] != "lot_249" || pages != 3 {
		t.Fatalf("allLots() = %d lots (last %v), %v in %d pages; want 250 in 3", len(all), all[len(all)-1:], err, pages)
	}
	if err := l.moreLots(context.Background(), all); err != nil {
		t.Fatal(err)
	}
	if len(l.lots) != 125 || l.leftOut != 125 || l.lots[0].entryKey != "pkg_in" {
		t.Errorf("--lots all without --db takes %d lots, leaves %d out, first %+v; want the operator's 125, 125 out, lot_000 with its keys", len(l.lots), l.leftOut, l.lots[0])
	}
	for _, g := range l.lots[1:] {
		if !g.scannable() || g.entryKey != "op" || g.entryGate != "gat_"+g.id+"_in" {
			t.Errorf("lot %+v: want its gates, scanned with the operator's session", g)
			break
		}
	}

	l = newLoader(10, "/tmp/x.db")
	if err := l.moreLots(context.Background(), all); err != nil {
		t.Fatal(err)
	}
	seen, scannable := map[string]bool{}, 0
	for _, g := range l.lots {
		seen[g.id] = true
		if g.scannable() {
			scannable++
		}
	}
	if len(l.lots) != 10 || len(seen) != 10 || l.leftOut != 0 || scannable == 10 {
		t.Errorf("--lots 10 with --db takes %d lots (%d distinct), leaves %d out, %d scannable; want 10 of any operator, the others' unscannable", len(l.lots), len(seen), l.leftOut, scannable)
	}
	if err := newLoader(300, "").moreLots(context.Background(), all); err == nil {
		t.Error("--lots 300 of 125 = nil; want an error")
	}
}
