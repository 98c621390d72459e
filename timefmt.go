package basalt

import "time"

// AppendTime appends t in TimeLayout. It writes the fixed layout digit by
// digit: records carry two or three dates, and this is several times
// faster than time.Time.AppendFormat on the read path.
func AppendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, TimeLayout)
	}
	dst = appendDigits(dst, year, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(month), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, day, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, hour, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, min, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, sec, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, t.Nanosecond()/1000, 6)
	return append(dst, 'Z')
}

func appendDigits(dst []byte, v, width int) []byte {
	var buf [8]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:width]...)
}

// ParseStoredTime parses a date in exactly TimeLayout, as the SQLite store
// writes them; anything else falls back to time.Parse.
func ParseStoredTime(s string) (time.Time, error) {
	if len(s) != len(TimeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || s[26] != 'Z' {
		return time.Parse(TimeLayout, s)
	}
	n := func(from, to int) (int, bool) {
		v := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := n(0, 4)
	month, ok2 := n(5, 7)
	day, ok3 := n(8, 10)
	hour, ok4 := n(11, 13)
	min, ok5 := n(14, 16)
	sec, ok6 := n(17, 19)
	micro, ok7 := n(20, 26)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59 {
		return time.Parse(TimeLayout, s)
	}
	return time.Date(year, time.Month(month), day, hour, min, sec, micro*1000, time.UTC), nil
}
