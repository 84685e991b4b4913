package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"parkd/internal/parking"
)

// Lots, levels, spots and notification settings carry a version that moves on
// with every change (Lot.Version, ...). Their GET and PATCH answers name it as
// the ETag, "<version>"; a PATCH may send it back in If-Match. The store's
// UPDATE checks the version it was given (WHERE id = ? AND version = ?), so a
// read-change-write never overwrites a change it did not see:
//
//   - with If-Match, the version must still be one it names: else 412
//     precondition_failed and nothing changes;
//   - without it, a write that finds the version moved on is redone on the
//     fresh row, so two PATCHes of different fields both land.

// maxPatchAttempts bounds the redos of a PATCH without If-Match that keeps
// losing races; after that it answers 412 like a stale If-Match.
const maxPatchAttempts = 8

// etag is the entity tag of a resource at version v.
func etag(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

// setETag names v as the ETag of the answer.
func setETag(w http.ResponseWriter, v int64) { w.Header().Set("ETag", etag(v)) }

// precondition is what a request's If-Match asks for.
type precondition struct {
	given    bool    // If-Match was sent
	any      bool    // "*": any version of a resource that exists
	versions []int64 // the versions named
}

// ifMatch reads If-Match: "*", or a comma-separated list of entity tags this
// API made ("3"). A weak tag (W/"3", what a compressed answer carries) names
// the same version: the version, not the bytes, is what is compared. A tag
// parkd never made matches nothing.
func ifMatch(r *http.Request) precondition {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		return precondition{}
	}
	p := precondition{given: true}
	for _, v := range values {
		for _, tag := range strings.Split(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" {
				p.any = true
				continue
			}
			tag = strings.TrimPrefix(tag, "W/")
			if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
				continue
			}
			if n, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64); err == nil {
				p.versions = append(p.versions, n)
			}
		}
	}
	return p
}

// check answers whether a resource at version v meets p: nil, or ErrStale.
func (p precondition) check(v int64) error {
	if !p.given || p.any {
		return nil
	}
	for _, want := range p.versions {
		if want == v {
			return nil
		}
	}
	return parking.Errorf(parking.EPRECONDITION, "If-Match names a version other than the current one (%s): read it again and retry", etag(v))
}

// patchVersioned runs attempt, a read-check-change-write whose write is
// versioned, until it does not lose a race: with If-Match naming versions a
// lost race is the client's 412; without it (or with "*") the attempt is
// redone on a fresh read, at most maxPatchAttempts times.
func patchVersioned(p precondition, attempt func() error) error {
	var err error
	for range maxPatchAttempts {
		err = attempt()
		if p.given && !p.any || !errors.Is(err, parking.ErrStale) {
			return err
		}
	}
	return err
}
