module certkeeper.test/validation-golden

go 1.26
