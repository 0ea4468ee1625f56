module github.com/roamnode/roamnode

go 1.26.8
