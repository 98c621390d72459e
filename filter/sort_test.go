package filter

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSort(t *testing.T) {
	tests := []struct {
		src  string
		want []SortField
	}{
		{``, nil},
		{`  `, nil},
		{`views`, []SortField{{Field: "views"}}},
		{`-views,title`, []SortField{{Field: "views", Desc: true}, {Field: "title"}}},
		{` - views , title `, []SortField{{Field: "views", Desc: true}, {Field: "title"}}},
		{`-created,id`, []SortField{{Field: "created", Desc: true}, {Field: "id"}}},
		{`draft,published,updated`, []SortField{{Field: "draft"}, {Field: "published"}, {Field: "updated"}}},
		{`title,body,owner,views,score,draft,pinned,published`, []SortField{
			{Field: "title"}, {Field: "body"}, {Field: "owner"}, {Field: "views"},
			{Field: "score"}, {Field: "draft"}, {Field: "pinned"}, {Field: "published"}}},
	}
	for _, tt := range tests {
		got, err := ParseSort(tt.src, posts)
		if err != nil {
			t.Errorf("ParseSort(%q): %v", tt.src, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseSort(%q) (-want +got):\n%s", tt.src, diff)
		}
	}
}

func TestParseSortError(t *testing.T) {
	tests := []struct{ src, code, msg string }{
		{`-viewz`, "unknown_field", `at offset 1: unknown field "viewz"`},
		{`title, viewz`, "unknown_field", `at offset 7: unknown field "viewz"`},
		{`meta`, "unsupported", `at offset 0: meta is json, which cannot be sorted`},
		{`author`, "unsupported", `at offset 0: author is a relation field, which cannot be sorted yet`},
		{`views,-views`, "duplicate", `at offset 7: views is listed twice; sort by each field once`},
		{`views,`, "syntax", `at offset 6: a field name is missing; write field names separated by commas, such as -views,title`},
		{`,views`, "syntax", `at offset 0: a field name is missing; write field names separated by commas, such as -views,title`},
		{`views,,title`, "syntax", `at offset 6: a field name is missing; write field names separated by commas, such as -views,title`},
		{`-`, "syntax", `at offset 1: a field name is missing; write field names separated by commas, such as -views,title`},
		{`--views`, "syntax", `at offset 1: unexpected character "-"; write field names separated by commas, such as -views,title`},
		{`+views`, "syntax", `at offset 0: unexpected character "+"; write field names separated by commas, such as -views,title`},
		{`views title`, "syntax", `at offset 6: unexpected character "t"; write field names separated by commas, such as -views,title`},
		{`views;title`, "syntax", `at offset 5: unexpected character ";"; write field names separated by commas, such as -views,title`},
		{"views\xff", "syntax", `at offset 5: invalid UTF-8 byte 0xff; write field names separated by commas, such as -views,title`},
		{`Views`, "syntax", `at offset 0: invalid name "Views"; names are lower case letters, digits and _`},
		{`1views`, "syntax", `at offset 0: invalid name "1views"; names are lower case letters, digits and _`},
		{`title,body,owner,views,score,draft,pinned,published,id`, "too_many", `at offset 52: sort by at most 8 fields`},
		{strings.Repeat(" ", 4097), "too_long", `at offset 4096: the sort is longer than 4096 bytes; shorten it`},
	}
	for _, tt := range tests {
		_, err := ParseSort(tt.src, posts)
		checkError(t, "ParseSort", tt.src, err, "sort", tt.code, tt.msg)
	}
}
