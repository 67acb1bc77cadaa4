package codec

import "testing"

// FuzzGob decodes arbitrary bytes as gob, explicitly and through auto
// detection: never a panic, always a payload or an error wrapping a sentinel.
// It is seeded with the gorilla/sessions payloads and the edge cases of
// gob_test.go.
func FuzzGob(f *testing.F) {
	addSeeds(f, nil, "gob")
	for _, s := range [][]byte{
		gobNested(40),
		cat(gobSliceDef(65, gobInterfaceID), gobMsg(gobI(65), []byte{0}, gobU(1), gobS("x"), gobI(gobIntID), gobU(2), []byte{0, 2})),
		cat(gobStructDef(66, "S", gobIntID, gobStringID, 66), gobMsg(gobI(66), []byte{1, 2, 2}, gobS("ab"), []byte{0})),
		cat(gobMsg(gobI(-65), []byte{7, 1}, gobCommon("Level", 65), []byte{0, 0}), gobMsg(gobI(65), []byte{0}, gobS("debug"))),
		{}, {0}, {1, 0}, {2, 0x7f, 0},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(FormatGob, data, fuzzLimits)
		checkDecode(t, data, p, err)
		if err == nil && p.Format != FormatGob {
			t.Fatalf("Decode(gob).Format = %s", p.Format)
		}
		auto, err := Decode(FormatAuto, data, fuzzLimits)
		checkDecode(t, data, auto, err)
	})
}
