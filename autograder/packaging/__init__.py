"""What the project builds for others: the Gradescope zip, the student handout, a student's submission.zip."""
