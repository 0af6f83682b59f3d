@problemName H
@univariate false
@dimensions 3
@classLabel true a
@data
::::::::
,,,,:,,,:,,:a
