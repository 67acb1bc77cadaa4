package tracker

import (
	"math/rand/v2"
	"testing"
)

// bruteAssignment is the reference: every assignment of rows to distinct columns.
func bruteAssignment(score [][]int) int {
	best := 0
	var walk func(i int, used map[int]bool, total int)
	walk = func(i int, used map[int]bool, total int) {
		if i == len(score) {
			best = max(best, total)
			return
		}
		walk(i+1, used, total) // row i unassigned
		for j, s := range score[i] {
			if used[j] || s <= 0 {
				continue
			}
			used[j] = true
			walk(i+1, used, total+s)
			used[j] = false
		}
	}
	walk(0, map[int]bool{}, 0)
	return best
}

func TestMaxAssignmentAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 2000 {
		rows, cols := 1+rng.IntN(5), 1+rng.IntN(5)
		score := make([][]int, rows)
		for i := range score {
			score[i] = make([]int, cols)
			for j := range score[i] {
				score[i][j] = rng.IntN(5) - 1 // -1 forbids the pair
			}
		}
		total, assigned := maxAssignment(score)
		if want := bruteAssignment(score); total != want {
			t.Fatalf("round %d: %v: total %d, want %d", round, score, total, want)
		}
		seen, sum := map[int]bool{}, 0
		for i, j := range assigned {
			if j < 0 {
				continue
			}
			if seen[j] || score[i][j] <= 0 {
				t.Fatalf("round %d: %v: assignment %v reuses a column or uses a pair not scored", round, score, assigned)
			}
			seen[j] = true
			sum += score[i][j]
		}
		if sum != total {
			t.Fatalf("round %d: %v: assignment %v sums to %d, total says %d", round, score, assigned, sum, total)
		}
	}
}
