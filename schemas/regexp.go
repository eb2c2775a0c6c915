package schemas

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The schemas' patterns are short, anchored and over ASCII, and they are
// matched many times per object: Go's regexp (a one-pass or backtracking
// matcher run per call) was a quarter of the cost of validating a proposal.
// compileRegexp gives the validator the same language through a DFA built
// from the same syntax.Prog, and keeps Go's regexp for what the DFA does
// not take:
//
//   - input with a byte ≥ 0x80: the DFA steps over bytes, and only for
//     ASCII is a byte a rune;
//   - patterns with an empty-width assertion other than ^ and $ of the whole
//     text (\b, \B, (?m)^ and $), or whose DFA would pass maxDFAStates.
//
// The answer is regexp.MatchString's in every case; TestRegexpAgrees and
// FuzzRegexp compare the two on every pattern of the schemas.

// compileRegexp is the validator's jsonschema.RegexpEngine. It parses the
// pattern with regexp.Compile, so syntax errors are Go's, word for word.
func compileRegexp(expr string) (jsonschema.Regexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	return &dfaRegexp{re: re}, nil
}

// dfaRegexp matches with a DFA built at first use, or with re where the
// DFA cannot answer.
type dfaRegexp struct {
	re   *regexp.Regexp
	once sync.Once
	d    *dfa // nil: the pattern is outside what newDFA builds
}

var _ jsonschema.Regexp = (*dfaRegexp)(nil)

func (r *dfaRegexp) String() string { return r.re.String() }

// MatchString reports whether s contains a match of the pattern, as
// regexp.Regexp.MatchString does.
func (r *dfaRegexp) MatchString(s string) bool {
	r.once.Do(func() { r.d = newDFA(r.re.String()) })
	d := r.d
	if d == nil {
		return r.re.MatchString(s)
	}
	// st is a state's offset in d.next: its number times d.nclass.
	st, match := d.start, int32(d.nclass)*matchState
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return r.re.MatchString(s)
		}
		st = d.next[st+int32(d.class[c])]
		if st <= match {
			return st == match
		}
	}
	return d.final[st]
}

// maxDFAStates bounds the states of one pattern's DFA; a pattern that
// needs more is matched by Go's regexp. The schemas' largest, a bounded
// repeat {0,199}, needs about 200.
const maxDFAStates = 2048

// States 0 and 1 of every DFA: no match can follow, and a match has been
// seen (MatchString is true whatever follows). Both loop on every byte.
const (
	deadState  int32 = 0
	matchState int32 = 1
)

// dfa is a pattern's deterministic automaton over ASCII bytes. Bytes that
// every instruction of the program treats alike share a class, so a state
// has one transition per class rather than 128.
//
// A state is named by its offset in next, its number times nclass, so that
// a step is one load: next[offset+class] is the offset of the next state.
type dfa struct {
	class  [utf8.RuneSelf]uint8
	nclass int
	next   []int32 // next[offset+class]
	final  []bool  // final[offset]: the text may end here
	start  int32
}

// newDFA builds the DFA of expr by subset construction over its compiled
// program, or returns nil if expr uses what it does not handle. A state is
// the set of program counters the NFA can be at before reading the next
// byte: the rune instructions waiting for a byte, and the $ instructions
// waiting to know whether the text ends here.
func newDFA(expr string) *dfa {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil
	}
	for _, in := range prog.Inst {
		if in.Op == syntax.InstEmptyWidth && syntax.EmptyOp(in.Arg)&^(syntax.EmptyBeginText|syntax.EmptyEndText) != 0 {
			return nil
		}
	}
	b := &dfaBuilder{prog: prog, seen: make([]bool, len(prog.Inst)), ids: map[string]int32{}}
	d := &dfa{}
	b.d = d
	b.classify()

	// MatchString looks for a match anywhere: at every position the NFA
	// may also begin afresh (after the first byte, ^ no longer holds).
	b.restart = b.closure(nil, []uint32{uint32(prog.Start)}, false)
	b.restartMatches = b.matched
	b.add(nil, false) // dead
	b.add(nil, false) // match
	d.final[matchState] = true
	set, matched := b.closure2([]uint32{uint32(prog.Start)}, true)
	if matched {
		d.start = matchState
	} else {
		d.start = b.state(set, true)
	}
	for i := 0; i < len(b.sets); i++ {
		if len(b.sets) > maxDFAStates {
			return nil
		}
		b.expand(int32(i))
	}
	// From state numbers to offsets.
	n := int32(d.nclass)
	for i := range d.next {
		d.next[i] *= n
	}
	final := make([]bool, len(d.next))
	for i, f := range d.final {
		final[int32(i)*n] = f
	}
	d.final, d.start = final, d.start*n
	return d
}

type dfaBuilder struct {
	prog    *syntax.Prog
	d       *dfa
	reps    []byte     // one byte of each class
	sets    [][]uint32 // sets[state]: its program counters, sorted
	begin   []bool     // begin[state]: at the start of the text
	ids     map[string]int32
	restart []uint32
	seen    []bool
	matched bool

	restartMatches bool // the pattern matches the empty text after ^
}

// classify splits the ASCII bytes into classes by which rune instructions
// of the program accept them.
func (b *dfaBuilder) classify() {
	var runeInsts []*syntax.Inst
	for i := range b.prog.Inst {
		switch in := &b.prog.Inst[i]; in.Op {
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			runeInsts = append(runeInsts, in)
		}
	}
	byKey := map[string]uint8{}
	sig := make([]byte, len(runeInsts))
	for c := 0; c < utf8.RuneSelf; c++ {
		for i, in := range runeInsts {
			sig[i] = 0
			if accepts(in, rune(c)) {
				sig[i] = 1
			}
		}
		id, ok := byKey[string(sig)]
		if !ok {
			id = uint8(len(b.reps))
			byKey[string(sig)] = id
			b.reps = append(b.reps, byte(c))
		}
		b.d.class[c] = id
	}
	b.d.nclass = len(b.reps)
}

// accepts is how regexp's matchers step a rune instruction.
func accepts(in *syntax.Inst, r rune) bool {
	switch in.Op {
	case syntax.InstRune:
		return in.MatchRune(r)
	case syntax.InstRune1:
		return r == in.Rune[0]
	case syntax.InstRuneAny:
		return true
	case syntax.InstRuneAnyNotNL:
		return r != '\n'
	}
	return false
}

// closure adds to set (and returns it) every program counter reachable
// from pcs without reading a byte; b.matched says whether a match
// instruction was among them. ^ holds only if begin; a $ is kept in the
// set unresolved, for final to decide.
func (b *dfaBuilder) closure(set []uint32, pcs []uint32, begin bool) []uint32 {
	clear(b.seen)
	for _, pc := range set {
		b.seen[pc] = true
	}
	b.matched = false
	var walk func(pc uint32)
	walk = func(pc uint32) {
		if b.seen[pc] {
			return
		}
		b.seen[pc] = true
		in := &b.prog.Inst[pc]
		switch in.Op {
		case syntax.InstFail:
		case syntax.InstMatch:
			b.matched = true
		case syntax.InstAlt, syntax.InstAltMatch:
			walk(in.Out)
			walk(in.Arg)
		case syntax.InstCapture, syntax.InstNop:
			walk(in.Out)
		case syntax.InstEmptyWidth:
			op := syntax.EmptyOp(in.Arg)
			if op&syntax.EmptyBeginText != 0 && !begin {
				return
			}
			if op&syntax.EmptyEndText != 0 {
				set = append(set, pc)
				return
			}
			walk(in.Out)
		default: // a rune instruction
			set = append(set, pc)
		}
	}
	for _, pc := range pcs {
		walk(pc)
	}
	return set
}

// closure2 is closure of pcs and the restart set, sorted, and whether it
// holds a match.
func (b *dfaBuilder) closure2(pcs []uint32, begin bool) ([]uint32, bool) {
	set := b.closure(nil, pcs, begin)
	matched := b.matched
	if !begin {
		set = b.closure(set, b.restart, false)
		matched = matched || b.matched || b.restartMatches
	}
	slices.Sort(set)
	return slices.Compact(set), matched
}

// state returns the id of the state of set, adding it if it is new.
func (b *dfaBuilder) state(set []uint32, begin bool) int32 {
	key := make([]byte, 0, 1+4*len(set))
	if begin {
		key = append(key, 1)
	} else {
		key = append(key, 0)
	}
	for _, pc := range set {
		key = append(key, byte(pc), byte(pc>>8), byte(pc>>16), byte(pc>>24))
	}
	if id, ok := b.ids[string(key)]; ok {
		return id
	}
	id := b.add(set, begin)
	b.ids[string(key)] = id
	return id
}

func (b *dfaBuilder) add(set []uint32, begin bool) int32 {
	id := int32(len(b.sets))
	b.sets = append(b.sets, set)
	b.begin = append(b.begin, begin)
	b.d.final = append(b.d.final, false)
	b.d.next = append(b.d.next, make([]int32, b.d.nclass)...)
	if id <= matchState {
		for c := range b.d.nclass {
			b.d.next[int(id)*b.d.nclass+c] = id // dead and match loop
		}
	} else {
		b.d.final[id] = b.final(set, begin)
	}
	return id
}

// final reports whether the text may end in the state of set: a $ of it
// holds there and leads to a match.
func (b *dfaBuilder) final(set []uint32, begin bool) bool {
	clear(b.seen)
	var walk func(pc uint32) bool
	walk = func(pc uint32) bool {
		if b.seen[pc] {
			return false
		}
		b.seen[pc] = true
		in := &b.prog.Inst[pc]
		switch in.Op {
		case syntax.InstMatch:
			return true
		case syntax.InstAlt, syntax.InstAltMatch:
			return walk(in.Out) || walk(in.Arg)
		case syntax.InstCapture, syntax.InstNop:
			return walk(in.Out)
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(in.Arg)&syntax.EmptyBeginText != 0 && !begin {
				return false
			}
			return walk(in.Out)
		}
		return false // a rune instruction: no byte is left to read
	}
	for _, pc := range set {
		if in := &b.prog.Inst[pc]; in.Op == syntax.InstEmptyWidth {
			b.seen[pc] = true
			if walk(in.Out) {
				return true
			}
		}
	}
	return false
}

// expand fills in the transitions of state id.
func (b *dfaBuilder) expand(id int32) {
	if id <= matchState {
		return
	}
	set := b.sets[id]
	var pcs []uint32
	for c, rep := range b.reps {
		pcs = pcs[:0]
		for _, pc := range set {
			if in := &b.prog.Inst[pc]; accepts(in, rune(rep)) {
				pcs = append(pcs, in.Out)
			}
		}
		next, matched := b.closure2(pcs, false)
		var to int32
		switch {
		case matched:
			to = matchState
		case len(next) == 0:
			to = deadState
		default:
			to = b.state(next, false)
		}
		b.d.next[int(id)*b.d.nclass+c] = to
	}
}
