package timeline

import (
	"cmp"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Size of the rendered image in pixels.
const (
	Width  = 1600
	Height = 600
)

// headroom is the share of the plot's height kept free above the highest
// bucket for the fault labels.
const headroom = 0.28

// Mark is one fault on the timeline. At and End are offsets from the start
// of the run; End == At is an instantaneous event (a kill, a restart), drawn
// as a vertical line, and End > At a span (a pause, a partition). An End
// before At is drawn as instantaneous.
type Mark struct {
	At, End time.Duration
	Label   string
}

// Render writes to path a PNG of Width x Height pixels: counts[i] is the
// number of successful writes in bucket i, which covers [i*bucket,
// (i+1)*bucket) of the run, and marks are the faults. The x axis is in
// seconds from the start of the run, and extends to the last mark if that
// ends after the last bucket.
func Render(path, title string, bucket time.Duration, counts []int, marks []Mark) error {
	if bucket <= 0 {
		return fmt.Errorf("timeline: bucket %v is not positive", bucket)
	}
	img, err := draw1(title, bucket, counts, marks)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("timeline: %w", err)
	}
	return f.Close()
}

// draw1 renders the plot into an image.
func draw1(title string, bucket time.Duration, counts []int, marks []Mark) (image.Image, error) {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(16)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = "seconds since the start of the run"
	p.Y.Label.Text = "successful writes per " + bucket.String()
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(12)
		a.Tick.Label.Font.Size = vg.Points(10)
	}

	sec := bucket.Seconds()
	xmax := float64(len(counts)) * sec
	peak := 0
	for _, n := range counts {
		peak = max(peak, n)
	}
	for _, m := range marks {
		xmax = max(xmax, m.End.Seconds(), m.At.Seconds())
	}
	if xmax <= 0 {
		xmax = 1
	}
	p.X.Min, p.X.Max = 0, xmax
	p.Y.Min, p.Y.Max = 0, float64(max(peak, 1))/(1-headroom)

	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 225}
	grid.Horizontal.Color = color.Gray{Y: 225}
	p.Add(grid)

	p.X.Tick.Marker = secondTicks{}
	p.Y.Tick.Marker = countTicks{}

	if len(counts) > 0 {
		// A step per bucket, closed by a last point at the end of the last
		// bucket so that it shows as wide as the others.
		pts := make(plotter.XYs, len(counts)+1)
		for i, n := range counts {
			pts[i] = plotter.XY{X: float64(i) * sec, Y: float64(n)}
		}
		pts[len(counts)] = plotter.XY{X: float64(len(counts)) * sec, Y: float64(counts[len(counts)-1])}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("timeline: %w", err)
		}
		line.StepStyle = plotter.PostStep
		line.LineStyle.Color = color.RGBA{R: 31, G: 90, B: 160, A: 255}
		line.LineStyle.Width = vg.Points(1)
		line.FillColor = color.RGBA{R: 160, G: 195, B: 230, A: 255}
		p.Add(line)
	}
	// The faults go over the writes, the bands translucent.
	f := newFaults(marks)
	p.Add(spans{f}, labels{f})

	// NB: the canvas draws on its own copy of the image it is given.
	c := vgimg.NewWith(vgimg.UseImage(image.NewRGBA(image.Rect(0, 0, Width, Height)))) // vgimg.DefaultDPI: 1 px = 0.75 pt
	p.Draw(draw.New(c))
	return c.Image(), nil
}

// faults are the marks to draw, in order of start, each with its colour.
type faults struct {
	marks  []Mark
	colors []color.RGBA
}

// palette colours the kinds of fault, in order of first appearance
// (Tableau 10, without the blue of the writes).
var palette = []color.RGBA{
	{R: 214, G: 39, B: 40, A: 255},   // red
	{R: 255, G: 127, B: 14, A: 255},  // orange
	{R: 148, G: 103, B: 189, A: 255}, // purple
	{R: 44, G: 160, B: 44, A: 255},   // green
	{R: 140, G: 86, B: 75, A: 255},   // brown
	{R: 227, G: 119, B: 194, A: 255}, // pink
	{R: 188, G: 189, B: 34, A: 255},  // olive
	{R: 23, G: 190, B: 207, A: 255},  // cyan
	{R: 127, G: 127, B: 127, A: 255}, // grey
}

func newFaults(marks []Mark) faults {
	f := faults{marks: slices.Clone(marks)}
	slices.SortStableFunc(f.marks, func(a, b Mark) int { return cmp.Compare(a.At, b.At) })
	kinds := map[string]int{}
	for _, m := range f.marks {
		k, ok := kinds[kind(m.Label)]
		if !ok {
			k = len(kinds)
			kinds[kind(m.Label)] = k
		}
		f.colors = append(f.colors, palette[k%len(palette)])
	}
	return f
}

// kind is the first word of a label, lower-cased: "kill node3" and "Kill
// leader" share a colour.
func kind(label string) string {
	w, _, _ := strings.Cut(strings.TrimSpace(label), " ")
	return strings.ToLower(strings.TrimRight(w, ":,("))
}

// spans draws each fault over the writes: a translucent band from At to
// End, or a line at At.
type spans struct{ faults }

// Plot implements plot.Plotter.
func (s spans) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for i, m := range s.marks {
		col := s.colors[i]
		x0 := trX(m.At.Seconds())
		if m.End > m.At {
			x1 := max(trX(m.End.Seconds()), x0+1)
			band := col
			band.A = 70
			c.FillPolygon(premultiply(band), c.ClipPolygonX([]vg.Point{
				{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y},
			}))
		}
		c.StrokeLine2(draw.LineStyle{Color: col, Width: vg.Points(1.25)}, x0, c.Min.Y, x0, c.Max.Y)
	}
}

// labels writes each fault's label near the top of the plot, at the fault's
// start, in the first row where it does not overlap the label before it. A
// label that finds no room is left out, and counted in a note at the
// bottom right.
type labels struct{ faults }

// Plot implements plot.Plotter.
func (l labels) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	sty := draw.TextStyle{
		Color:   color.Black,
		Font:    plot.DefaultFont,
		Handler: plot.DefaultTextHandler,
		XAlign:  draw.XLeft,
		YAlign:  draw.YTop,
	}
	sty.Font.Size = vg.Points(9)
	sty.Font.Weight = xfont.WeightBold // so a label stays readable over a band
	rowHeight := sty.Height("Ag") + vg.Points(2)
	rows := max(1, int(vg.Length(headroom)*(c.Max.Y-c.Min.Y)/rowHeight))
	ends := make([]vg.Length, rows) // right edge of the last label in each row
	for i := range ends {
		ends[i] = c.Min.X - 1
	}
	pad := vg.Points(3)
	omitted := 0
	for i, m := range l.marks {
		if m.Label == "" {
			continue
		}
		w := sty.Width(m.Label)
		x := trX(m.At.Seconds()) + pad
		if x+w > c.Max.X {
			x = max(c.Min.X, c.Max.X-w)
		}
		// The first row with room; none left: the line or band shows the
		// fault, unlabelled.
		row := slices.IndexFunc(ends, func(end vg.Length) bool { return end < x })
		if row < 0 {
			omitted++
			continue
		}
		ends[row] = x + w + pad
		sty.Color = darken(l.colors[i])
		c.FillText(sty, vg.Point{X: x, Y: c.Max.Y - pad - vg.Length(row)*rowHeight}, m.Label)
	}
	if omitted > 0 {
		sty.Color = color.Black
		sty.XAlign, sty.YAlign = draw.XRight, draw.YBottom
		sty.Font.Weight = xfont.WeightNormal
		c.FillText(sty, vg.Point{X: c.Max.X - pad, Y: c.Min.Y + pad}, fmt.Sprintf("%d fault labels left out for lack of room", omitted))
	}
}

// premultiply turns a straight-alpha colour into the alpha-premultiplied
// color.RGBA that the image/color package expects.
func premultiply(c color.RGBA) color.RGBA {
	a := uint16(c.A)
	return color.RGBA{R: uint8(uint16(c.R) * a / 255), G: uint8(uint16(c.G) * a / 255), B: uint8(uint16(c.B) * a / 255), A: c.A}
}

// darken makes a label's colour dark enough for text.
func darken(c color.RGBA) color.RGBA {
	f := func(v uint8) uint8 { return uint8(int(v) * 2 / 3) }
	return color.RGBA{R: f(c.R), G: f(c.G), B: f(c.B), A: 255}
}

// secondTicks marks the x axis with a round number of seconds between major
// ticks, 10 to 25 of them over the run, and 5 minor ticks per major one
// when they are at least a second apart.
type secondTicks struct{}

// Ticks implements plot.Ticker.
func (secondTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 1.0
	for _, s := range []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600} {
		step = s
		if (hi-lo)/s <= 25 {
			break
		}
	}
	for (hi-lo)/step > 25 {
		step *= 2
	}
	var ticks []plot.Tick
	minor := step / 5
	for i := math.Ceil(lo / minor); i*minor <= hi; i++ {
		x := math.Round(i*minor*1e6) / 1e6 // 0.3, not 0.30000000000000004
		if math.Mod(i, 5) == 0 {
			ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'f', -1, 64)})
		} else if minor >= 1 {
			ticks = append(ticks, plot.Tick{Value: x})
		}
	}
	return ticks
}

// countTicks are plot.DefaultTicks labelled only at whole numbers, written
// without decimals.
type countTicks struct{}

// Ticks implements plot.Ticker.
func (countTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label == "" {
			continue
		}
		ticks[i].Label = ""
		if v := math.Round(t.Value); math.Abs(v-t.Value) < 1e-9 {
			ticks[i].Label = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ticks
}
