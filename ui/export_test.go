package ui

import "golang.org/x/net/html"

type htmlNode = html.Node
