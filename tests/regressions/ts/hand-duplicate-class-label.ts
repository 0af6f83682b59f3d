@problemName H
@univariate true
@classLabel true a a
@data
1,2:a
