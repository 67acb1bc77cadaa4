// Assignment: which of several overlapping births replaces which deletion, by payload.

package tracker

// maxAssignment returns the largest total score of an assignment of rows to columns,
// each row and each column used at most once, and the column of each row (-1: none).
// A pair scored below zero is never used. It is the Hungarian method on the matrix
// padded to a square of rows+cols with zero scores, O((rows+cols)³); callers keep it
// small.
// (Written here rather than imported: a well-kept Go package for this is a whole
// numeric library, for forty lines.)
func maxAssignment(score [][]int) (int, []int) {
	rows := len(score)
	cols := 0
	for _, r := range score {
		cols = max(cols, len(r))
	}
	// rows+cols on each side: a dummy column per row lets any row go unassigned, a
	// dummy row per column any column.
	n := rows + cols
	const forbidden = 1 << 40
	top := 0
	for _, r := range score {
		for _, s := range r {
			top = max(top, s)
		}
	}
	// cost[i][j] = top - score, so the least cost is the largest score; a pair scored
	// below zero costs more than any total of allowed pairs.
	cost := func(i, j int) int {
		if i >= rows || j >= cols {
			return top
		}
		if j >= len(score[i]) {
			return forbidden
		}
		if s := score[i][j]; s >= 0 {
			return top - s
		}
		return forbidden
	}
	// e-maxx's Hungarian method, 1-based with a virtual column 0.
	u, v := make([]int, n+1), make([]int, n+1)
	p, way := make([]int, n+1), make([]int, n+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		minv := make([]int, n+1)
		used := make([]bool, n+1)
		for j := range minv {
			minv[j] = 1<<62 - 1
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], 1<<62-1, 0
			for j := 1; j <= n; j++ {
				if used[j] {
					continue
				}
				if cur := cost(i0-1, j-1) - u[i0] - v[j]; cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= n; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	assigned := make([]int, rows)
	for i := range assigned {
		assigned[i] = -1
	}
	total := 0
	for j := 1; j <= n; j++ {
		i := p[j] - 1
		if i < rows && j-1 < cols && j-1 < len(score[i]) && score[i][j-1] > 0 {
			assigned[i] = j - 1
			total += score[i][j-1]
		}
	}
	return total, assigned
}
