package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"

	"callfilter/scrub"
)

const genUsage = "usage: callfilter gen --rows N [--format leads|dnc] [--seed S] [--full|--cold-intl|--cold-nanp] [-o FILE]"

// genCmd writes a generated file for benchmarks and trials: a messy lead list
// (--format leads, the default) or a DNC Registry full file (--format dnc).
func genCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rows := fs.Int("rows", 1000, "data rows to generate")
	format := fs.String("format", "leads", "leads: a messy CSV lead list; dnc: a DNC Registry full file (area code,number)")
	seed := fs.Uint64("seed", 1, "random seed (the same seed gives the same file)")
	full := fs.Bool("full", false, "make every number need the full parser (international numbers; leads only)")
	coldIntl := fs.Bool("cold-intl", false, "make every number an international mobile with random digits, nearly all of prefixes not seen before (leads only)")
	coldNANP := fs.Bool("cold-nanp", false, "make every number a NANP one of a random area code and exchange, nearly all of prefixes not seen before (leads only)")
	outPath := fs.String("o", "-", "output file, - for standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rows < 0 || fs.NArg() > 0 || btoi(*full)+btoi(*coldIntl)+btoi(*coldNANP) > 1 {
		return errors.New(genUsage)
	}
	var gen func(io.Writer) error
	switch *format {
	case "leads":
		gen = func(w io.Writer) error {
			return scrub.Generate(w, scrub.GenOptions{Rows: *rows, Seed: *seed, Full: *full, ColdIntl: *coldIntl, ColdNANP: *coldNANP})
		}
	case "dnc":
		if *full || *coldIntl || *coldNANP {
			return errors.New("--full, --cold-intl and --cold-nanp are for --format leads")
		}
		if max := len(dncAreaCodes) * dncPerAreaCode; *rows > max {
			return fmt.Errorf("--rows %d: a DNC file of %d area codes holds at most %d numbers", *rows, len(dncAreaCodes), max)
		}
		gen = func(w io.Writer) error { return generateDNC(w, *rows, *seed) }
	default:
		return fmt.Errorf("--format %q: use leads or dnc; %s", *format, genUsage)
	}
	if *outPath == "-" {
		return gen(stdout)
	}
	f, err := os.Create(*outPath)
	if err != nil {
		return err
	}
	if err := gen(f); err != nil {
		f.Close()
		return err
	}
	return f.Close() // a full disk shows here
}

// dncAreaCodes are US geographic area codes in service, the ones a national
// DNC download covers.
var dncAreaCodes = []int{
	201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 220, 223, 224,
	225, 228, 229, 231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260, 262, 267, 269, 270, 272, 276,
	279, 281, 301, 302, 303, 304, 305, 307, 308, 309, 310, 312, 313, 314, 315, 316, 317, 318, 319, 320,
	321, 323, 325, 326, 330, 331, 332, 334, 336, 337, 339, 341, 346, 347, 351, 352, 360, 361, 364, 380,
	385, 386, 401, 402, 404, 405, 406, 407, 408, 409, 410, 412, 413, 414, 415, 417, 419, 423, 424, 425,
	430, 432, 434, 435, 440, 442, 443, 445, 447, 458, 463, 464, 469, 470, 475, 478, 479, 480, 484, 501,
	502, 503, 504, 505, 507, 508, 509, 510, 512, 513, 515, 516, 517, 518, 520, 530, 531, 534, 539, 540,
	541, 551, 559, 561, 562, 563, 564, 567, 570, 571, 573, 574, 575, 580, 585, 586, 601, 602, 603, 605,
	606, 607, 608, 609, 610, 612, 614, 615, 616, 617, 618, 619, 620, 623, 626, 628, 629, 630, 631, 636,
	641, 646, 650, 651, 657, 659, 660, 661, 662, 667, 669, 678, 680, 681, 682, 689, 701, 702, 703, 704,
	706, 707, 708, 712, 713, 714, 715, 716, 717, 718, 719, 720, 724, 725, 726, 727, 730, 731, 732, 734,
	737, 740, 743, 747, 754, 757, 760, 762, 763, 765, 769, 770, 772, 773, 774, 775, 779, 781, 785, 786,
	801, 802, 803, 804, 805, 806, 808, 810, 812, 813, 814, 815, 816, 817, 818, 820, 828, 830, 831, 832,
	835, 838, 843, 845, 847, 848, 850, 854, 856, 857, 858, 859, 860, 862, 863, 864, 865, 870, 872, 878,
	901, 903, 904, 906, 907, 908, 909, 910, 912, 913, 914, 915, 916, 917, 918, 919, 920, 925, 928, 929,
	930, 931, 934, 936, 937, 938, 940, 941, 945, 947, 949, 951, 952, 954, 956, 959, 970, 971, 972, 973,
	975, 978, 979, 980, 984, 985, 986, 989,
}

// dncPerAreaCode is how many numbers an area code has: exchanges 200–999,
// lines 0000–9999.
const dncPerAreaCode = 800 * 10_000

// generateDNC writes a DNC Registry full file of n distinct numbers, as the
// registry's flat files are: "201,5550123" lines (CRLF) in ascending order.
// The numbers are spread over dncAreaCodes, each area code's share weighted
// at random between a quarter and 1¾ of the mean (so some area codes are
// dense and some sparse), and chosen uniformly among its exchanges and lines.
func generateDNC(w io.Writer, n int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	weights := make([]float64, len(dncAreaCodes))
	var sum float64
	for i := range weights {
		weights[i] = 0.25 + 1.5*rng.Float64()
		sum += weights[i]
	}
	// Shares: rounded down, capped at what an area code holds, the rest
	// spread one by one where there is room.
	shares := make([]int, len(dncAreaCodes))
	left := n
	for i, wt := range weights {
		shares[i] = min(int(float64(n)*wt/sum), dncPerAreaCode)
		left -= shares[i]
	}
	for i := 0; left > 0; i = (i + 1) % len(shares) {
		if shares[i] < dncPerAreaCode {
			shares[i]++
			left--
		}
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	line := []byte("201,2000000\r\n")
	for i, npa := range dncAreaCodes {
		need := shares[i]
		// Selection sampling (Knuth's algorithm S): each of the area code's
		// numbers in turn, chosen with probability need/remaining, gives
		// exactly need numbers, ascending.
		for c := 0; c < dncPerAreaCode && need > 0; c++ {
			if rng.Uint64N(uint64(dncPerAreaCode-c)) >= uint64(need) {
				continue
			}
			need--
			num := 2_000_000 + c // exchange 200 and up
			line[0], line[1], line[2] = byte('0'+npa/100), byte('0'+npa/10%10), byte('0'+npa%10)
			for d := 10; d >= 4; d-- {
				line[d] = byte('0' + num%10)
				num /= 10
			}
			if _, err := bw.Write(line); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
