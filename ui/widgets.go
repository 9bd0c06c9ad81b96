package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Small building blocks shared by the dashboard cards and the settings
// window.

// caption is small secondary text. It uses the theme's placeholder colour:
// a Label's LowImportance maps to the "disabled" colour, which is nearly
// invisible on both the light and the dark background.
func caption(text string) *widget.RichText {
	return secondaryText(text, theme.SizeNameCaptionText)
}

// secondaryText is text in the secondary colour at a given size.
func secondaryText(text string, size fyne.ThemeSizeName) *widget.RichText {
	return widget.NewRichText(&widget.TextSegment{
		Text:  text,
		Style: widget.RichTextStyle{ColorName: theme.ColorNamePlaceHolder, SizeName: size, Inline: true},
	})
}

// setText replaces the text of a one-segment RichText made by caption or
// secondaryText, refreshing only on change.
func setText(rt *widget.RichText, text string) {
	seg := rt.Segments[0].(*widget.TextSegment)
	if seg.Text == text {
		return
	}
	seg.Text = text
	rt.Refresh()
}

// errorLabel is a wrapped message in the error colour, hidden while empty;
// the settings window puts one under every field.
func errorLabel() *widget.Label {
	l := widget.NewLabel("")
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	l.Hide()
	return l
}

// showError sets a message label's text and shows it, or hides it when
// msg is empty.
func showError(l *widget.Label, msg string) {
	l.SetText(msg)
	if msg == "" {
		l.Hide()
	} else {
		l.Show()
	}
}

// figureLabel is a large bold amount.
func figureLabel() *widget.Label {
	l := widget.NewLabel("")
	l.SizeName = theme.SizeNameSubHeadingText
	l.TextStyle.Bold = true
	return l
}

// tableLayout arranges objects in rows of cols cells, row after row. Each
// column is as wide as its widest cell and the stretch column (-1: none)
// takes the width that is left, so long model names truncate rather than
// push numbers off the card. Each cell keeps its own height, centred in
// its row, so checks, labels and progress bars line up on one middle line.
// Hidden cells still hold their place, keeping the columns aligned.
type tableLayout struct {
	cols    int
	stretch int
}

func (t tableLayout) measure(objs []fyne.CanvasObject) (widths, heights []float32) {
	widths = make([]float32, t.cols)
	heights = make([]float32, (len(objs)+t.cols-1)/t.cols)
	for i, o := range objs {
		if !o.Visible() {
			continue
		}
		m := o.MinSize()
		widths[i%t.cols] = max(widths[i%t.cols], m.Width)
		heights[i/t.cols] = max(heights[i/t.cols], m.Height)
	}
	return widths, heights
}

func (t tableLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	widths, heights := t.measure(objs)
	pad := theme.Padding()
	var s fyne.Size
	for _, w := range widths {
		s.Width += w
	}
	for _, h := range heights {
		s.Height += h
	}
	s.Width += pad * float32(max(len(widths)-1, 0))
	s.Height += pad * float32(max(len(heights)-1, 0))
	return s
}

func (t tableLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	widths, heights := t.measure(objs)
	pad := theme.Padding()
	if t.stretch >= 0 && t.stretch < t.cols {
		used := pad * float32(t.cols-1)
		for _, w := range widths {
			used += w
		}
		widths[t.stretch] += max(size.Width-used, 0)
	}
	xs := make([]float32, t.cols)
	for c := 1; c < t.cols; c++ {
		xs[c] = xs[c-1] + widths[c-1] + pad
	}
	y := float32(0)
	for r, h := range heights {
		for c := 0; c < t.cols && r*t.cols+c < len(objs); c++ {
			o := objs[r*t.cols+c]
			oh := o.MinSize().Height
			o.Resize(fyne.NewSize(widths[c], oh))
			o.Move(fyne.NewPos(xs[c], y+(h-oh)/2))
		}
		y += h + pad
	}
}
