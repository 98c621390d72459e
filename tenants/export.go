package tenants

import (
	"bufio"
	"context"
	"io"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// Export writes every record of the tenant as JSON lines,
// {"collection": name, "record": {...}}, collection by collection in id
// order, streaming: memory stays flat whatever the tenant's size.
func (s *Service) Export(ctx context.Context, tenant string, w io.Writer) error {
	if _, err := s.manager(ctx, tenant); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, c := range s.records.Collections(ctx) {
		if err := s.exportCollection(ctx, tenant, c, bw); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func (s *Service) exportCollection(ctx context.Context, tenant string, c *basalt.Collection, w *bufio.Writer) error {
	var after []any
	line := make([]byte, 0, 1024)
	for {
		page, err := s.store.RecordList(ctx, &store.RecordListParams{TenantID: tenant, Collection: c, After: after, Limit: 500})
		if err != nil {
			return err
		}
		for _, r := range page {
			line = append(line[:0], `{"collection":`...)
			line = basalt.AppendJSONString(line, c.Name)
			line = append(line, `,"record":`...)
			line = basalt.AppendRecordJSON(line, c, r, nil)
			line = append(line, "}\n"...)
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
		if len(page) < 500 {
			return nil
		}
		after = []any{page[len(page)-1].ID}
	}
}
