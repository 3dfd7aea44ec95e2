package shell

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Split splits a command line into words as a POSIX shell would, but
// expands nothing: words are separated by unquoted blanks; 'single quotes'
// keep everything literally; "double quotes" keep everything but \" \\ \$
// \` and backslash-newline; a backslash outside quotes keeps the next
// character; ~ and glob characters stay literal. An empty line gives no
// words.
//
// Split refuses what cannot work without a shell, saying why in terms of
// the line: an unquoted operator (| & ; < > ( )), which the program would
// receive as an argument, and an expansion ($NAME, ${...}, $(...), `...`)
// outside single quotes, unless its word is the script of a shell run with
// -c (`sh -c "dd if=$1 of=$2" sh {new} {target}`), which expands it.
func Split(line string) ([]string, error) {
	s := scanner{line: line}
	if err := s.scan(); err != nil {
		return nil, err
	}
	if len(s.ops) > 0 {
		return nil, s.opError(s.ops[0])
	}
	for _, x := range s.exps {
		if !Script(s.words, x.word) {
			return nil, s.expError(x)
		}
	}
	return s.words, nil
}

// shells are the programs that run their -c argument as a script.
var shells = []string{"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh"}

// Script reports whether argv[i] is the script of a shell run with -c: a
// shell's name (sh, bash, ...) comes before it, followed only by options,
// one of them holding c (-c, -ec, -euc), as in sh -e -c SCRIPT.
func Script(argv []string, i int) bool {
	for j := i - 1; j >= 0; j-- {
		a := argv[j]
		if slices.Contains(shells, filepath.Base(a)) {
			return j < i-1 && hasC(argv[j+1:i])
		}
		if !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "+") || a == "-" || a == "--" {
			return false
		}
	}
	return false
}

// hasC reports whether one of the options opts is a -c.
func hasC(opts []string) bool {
	for _, o := range opts {
		if len(o) > 1 && o[0] == '-' && o[1] != '-' && strings.ContainsRune(o[1:], 'c') {
			return true
		}
	}
	return false
}

// found is an operator or an expansion: where it is in the line, its
// text, and the word it is in (or would start).
type found struct {
	col  int
	text string
	word int
}

// scanner is one Split.
type scanner struct {
	line   string
	words  []string
	cur    strings.Builder
	inWord bool
	ops    []found
	exps   []found
}

func (s *scanner) end() {
	if s.inWord {
		s.words = append(s.words, s.cur.String())
		s.cur.Reset()
		s.inWord = false
	}
}

func (s *scanner) scan() error {
	line := s.line
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			s.end()
		case c == '\\':
			if i+1 >= len(line) {
				return fmt.Errorf("%q ends with a lone backslash", line)
			}
			i++
			if line[i] != '\n' {
				s.cur.WriteByte(line[i])
				s.inWord = true
			}
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return fmt.Errorf("unterminated single quote at column %d of %q", i+1, line)
			}
			s.cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			s.inWord = true
		case c == '"':
			j, err := s.double(i)
			if err != nil {
				return err
			}
			i = j
		case c == '$' || c == '`':
			s.inWord = true
			i = s.expansion(i, len(line))
		case strings.IndexByte("|&;<>()", c) >= 0:
			op := string(c)
			if i+1 < len(line) && strings.IndexByte("|&<>", line[i+1]) >= 0 {
				op += string(line[i+1])
			}
			s.ops = append(s.ops, found{col: i, text: op, word: s.wordIndex()})
			s.cur.WriteString(op)
			s.inWord = true
			i += len(op) - 1
		default:
			s.cur.WriteByte(c)
			s.inWord = true
		}
	}
	s.end()
	return nil
}

// double reads the double-quoted part that opens at line[open] and returns
// the index of its closing quote.
func (s *scanner) double(open int) (int, error) {
	line := s.line
	s.inWord = true
	for i := open + 1; ; i++ {
		if i >= len(line) {
			return 0, fmt.Errorf("unterminated double quote at column %d of %q", open+1, line)
		}
		d := line[i]
		switch {
		case d == '"':
			return i, nil
		case d == '\\' && i+1 < len(line) && strings.IndexByte("\\\"$`\n", line[i+1]) >= 0:
			i++
			if line[i] != '\n' {
				s.cur.WriteByte(line[i])
			}
		case d == '$' || d == '`':
			end := strings.IndexByte(line[i+1:], '"')
			if end < 0 {
				return 0, fmt.Errorf("unterminated double quote at column %d of %q", open+1, line)
			}
			i = s.expansion(i, i+1+end)
		default:
			s.cur.WriteByte(d)
		}
	}
}

// expansion records the expansion that starts at line[i] ($ or `), within
// line[:limit], copies its text into the word, and returns the index of its
// last byte. A $ that a shell keeps as it is ("a$", "$ ") is copied alone.
func (s *scanner) expansion(i, limit int) int {
	line := s.line[:limit]
	n := expansionLen(line[i:])
	if n == 0 {
		s.cur.WriteByte(line[i])
		return i
	}
	text := line[i : i+n]
	s.exps = append(s.exps, found{col: i, text: text, word: s.wordIndex()})
	s.cur.WriteString(text)
	return i + n - 1
}

// expansionLen is the length of the expansion at the start of t, 0 when a
// shell would keep its $ literally.
func expansionLen(t string) int {
	if t[0] == '`' {
		if j := strings.IndexByte(t[1:], '`'); j >= 0 {
			return j + 2
		}
		return len(t)
	}
	if len(t) < 2 {
		return 0
	}
	switch c := t[1]; {
	case c == '{' || c == '(':
		closer := map[byte]byte{'{': '}', '(': ')'}[c]
		depth := 0
		for k := 1; k < len(t); k++ {
			switch t[k] {
			case c:
				depth++
			case closer:
				if depth--; depth == 0 {
					return k + 1
				}
			}
		}
		return len(t)
	case c >= '0' && c <= '9' || strings.IndexByte("@*#?$!-", c) >= 0:
		return 2
	case isNameByte(c):
		k := 2
		for k < len(t) && (isNameByte(t[k]) || t[k] >= '0' && t[k] <= '9') {
			k++
		}
		return k
	}
	return 0
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// wordIndex is the index of the word being read, or of the next one.
func (s *scanner) wordIndex() int { return len(s.words) }

// reaches says where a word reaches: the program's name, or an argument of
// the program.
func (s *scanner) reaches(word int) string {
	if word == 0 || len(s.words) == 0 {
		return "would be part of the program's name"
	}
	return "would reach " + s.words[0] + " as an argument"
}

func (s *scanner) opError(op found) error {
	return fmt.Errorf("unquoted %s at column %d of %q %s: no shell runs the command, so it would not be interpreted; quote it to pass it literally, or run the command with sh -c '...' sh {new} {target}",
		op.text, op.col+1, s.line, s.reaches(op.word))
}

func (s *scanner) expError(x found) error {
	where := "would reach " + s.words[0] + " as"
	if x.word == 0 {
		where = "would be part of the program's name, as"
	}
	return fmt.Errorf("%s (column %d of %q) %s the %s %s: no shell runs the command, so nothing expands it; run it through a shell, e.g. sh -c '...' sh {new} {target}, or quote it ('%s') to pass it literally",
		x.text, x.col+1, s.line, where, count(len(x.text)), x.text, x.text)
}

// count says "the four characters" of n characters.
func count(n int) string {
	words := []string{"", "one character", "two characters", "three characters", "four characters", "five characters",
		"six characters", "seven characters", "eight characters", "nine characters", "ten characters"}
	if n < len(words) {
		return words[n]
	}
	return fmt.Sprintf("%d characters", n)
}
